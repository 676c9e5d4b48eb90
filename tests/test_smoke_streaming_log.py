"""The StreamingLogAnalytics smoke check against fakes: the LocalStack path posts to the API as
LocalStack serves REST APIs, finds its events on the stream, and reports every step after the
Flink job as not runnable there, with the reason."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from refarch.smoke import CHECKS
from refarch.smoke import streaming_log
from refarch.smoke.report import ARRIVED, NOT_RUNNABLE
from refarch.smoke.target import Target

OUTPUTS = {"CollectApiId": "abc123", "CollectStage": "v1", "CollectUrl": "https://x/v1/events",
           "AllowedOrigin": "https://www.example.com", "EventsStreamName": "events"}


class Kinesis:
    def __init__(self) -> None:
        self.records: list[bytes] = []

    def list_shards(self, StreamName):
        return {"Shards": [{"ShardId": "shardId-000000000000"}]}

    def get_shard_iterator(self, **_):
        return {"ShardIterator": "it"}

    def get_records(self, ShardIterator, Limit):
        return {"Records": [{"Data": r} for r in self.records], "NextShardIterator": None}


class ApiGateway:
    class meta:
        endpoint_url = "http://localhost:4566"


class FakeTarget(Target):
    def __init__(self, kinesis: Kinesis) -> None:
        super().__init__("localstack", None, "us-east-1")
        self.kinesis = kinesis

    def outputs(self, stack_name):
        return OUTPUTS

    def client(self, service):
        return {"kinesis": self.kinesis, "apigateway": ApiGateway()}[service]


def test_the_check_is_registered_for_the_stack():
    assert CHECKS["StreamingLogAnalytics"] is streaming_log.smoke_streaming_log


def test_on_localstack_the_api_feeds_the_stream_and_the_rest_is_not_runnable(monkeypatch):
    kinesis, posted = Kinesis(), []

    def post(url, body, origin):
        posted.append((url, body, origin))
        if body["events"][0]["status"] == 700:
            return 400, {"message": "Invalid request body", "reason": "[700 is greater than the maximum of 599]"}
        kinesis.records += [json.dumps(e).encode() for e in body["events"]]
        return 200, {"accepted": len(body["events"]), "failed": 0, "retry": []}

    monkeypatch.setattr(streaming_log, "post", post)
    report = streaming_log.smoke_streaming_log(FakeTarget(kinesis), "refarch-dev-StreamingLogAnalytics",
                                               timeout=1, progress=lambda m: None)
    assert posted[0][0] == "http://localhost:4566/restapis/abc123/v1/_user_request_/events"
    assert posted[0][2] == "https://www.example.com"
    steps = {s.name: s.status for s in report.steps}
    assert steps["batch posted to the collection API"] == ARRIVED
    assert steps["events on the events stream"] == ARRIVED
    assert steps["malformed batch refused at the edge"] == ARRIVED
    assert steps["the 400 names the reason"] == ARRIVED
    assert [s.detail for s in report.steps if s.status == NOT_RUNNABLE] == [streaming_log.NO_FLINK] * 5
    assert report.passed


def test_a_localstack_that_ignores_the_model_says_so(monkeypatch):
    kinesis = Kinesis()

    def post(url, body, origin):
        kinesis.records += [json.dumps(e).encode() for e in body["events"]]
        return 200, {"accepted": len(body["events"]), "failed": 0, "retry": []}

    monkeypatch.setattr(streaming_log, "post", post)
    report = streaming_log.smoke_streaming_log(FakeTarget(kinesis), "s", timeout=1, progress=lambda m: None)
    step = report.step("malformed batch refused at the edge")
    assert step.status == NOT_RUNNABLE and "did not apply the request model (it answered 200)" in step.detail


def test_the_sample_is_tagged_with_the_run_and_valid_for_the_model():
    from jsonschema import Draft4Validator

    from refarch import clickstream_schema as schema

    events = streaming_log.sample("r1", datetime(2024, 5, 1, tzinfo=timezone.utc))
    assert all(e["event_id"].startswith("smoke-r1-") for e in events)
    assert not list(Draft4Validator(schema.request_schema()).iter_errors({"events": events}))


def test_a_localstack_400_without_the_reason_says_why(monkeypatch):
    kinesis = Kinesis()

    def post(url, body, origin):
        if body["events"][0]["status"] == 700:
            return 400, {"message": "Invalid request body"}
        kinesis.records += [json.dumps(e).encode() for e in body["events"]]
        return 200, {"accepted": len(body["events"]), "failed": 0, "retry": []}

    monkeypatch.setattr(streaming_log, "post", post)
    report = streaming_log.smoke_streaming_log(FakeTarget(kinesis), "s", timeout=1, progress=lambda m: None)
    assert report.step("malformed batch refused at the edge").status == ARRIVED
    step = report.step("the 400 names the reason")
    assert step.status == NOT_RUNNABLE and "BAD_REQUEST_BODY" in step.detail and report.passed
