"""The Firehose transformation handler: the record contract, the 6 MB response limit,
re-ingestion of the overflow, metrics, and a property test over arbitrary input."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambda_loader import load

log_transform = load("log_transform", "log_transform")
parse = load("log_transform", "log_transform_parse")

STREAM_ARN = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/access-logs"
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
COLUMN_NAMES = [name for name, _ in parse.COLUMNS]
COMMON = b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326\n'


@dataclass
class FakeLambdaContext:
    function_name: str = "log-transform"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:log-transform"
    aws_request_id: str = "6f1c6a0e-0000-4000-8000-000000000000"


class FakeFirehose:
    """put_record_batch that accepts everything, or rejects the first `reject` records of
    every call; records what it was sent."""

    def __init__(self, reject: int = 0):
        self.reject = reject
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 (boto3's names)
        assert DeliveryStreamName == "access-logs"
        self.calls.append([record["Data"] for record in Records])
        answers = [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"}
                   if index < self.reject else {"RecordId": f"r{index}"}
                   for index in range(len(Records))]
        return {"FailedPutCount": min(self.reject, len(Records)), "RequestResponses": answers}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def firehose_event(datas: list[str], record_ids: list[str] | None = None) -> dict:
    record_ids = record_ids or [f"id-{index:06d}" for index in range(len(datas))]
    return {
        "invocationId": "invocation-1",
        "deliveryStreamArn": STREAM_ARN,
        "region": "eu-west-1",
        "records": [{"recordId": record_id, "approximateArrivalTimestamp": 1700000000000,
                     "data": data} for record_id, data in zip(record_ids, datas)],
    }


def invoke(event: dict) -> dict:
    return log_transform.handler(event, FakeLambdaContext())


def decoded_json(entry: dict) -> dict:
    text = base64.b64decode(entry["data"]).decode()
    assert text.endswith("}\n")
    return json.loads(text)


def access_lines(count: int) -> list[bytes]:
    """Short combined lines (~120 bytes); 19,000 of them make a ~7 MiB all-Ok response."""
    return [(f'10.0.{index // 256 % 256}.{index % 256} - - '
             f'[10/Oct/2000:13:55:{index % 60:02d} -0700] "GET /item/{index}?ref=home HTTP/1.1" '
             f'200 {index} "https://example.com/" "Mozilla/5.0"\n').encode()
            for index in range(count)]


@pytest.fixture
def firehose(monkeypatch) -> FakeFirehose:
    fake = FakeFirehose()
    monkeypatch.setattr(log_transform, "firehose_client", lambda region: fake)
    monkeypatch.setattr(log_transform, "REINGEST_BACKOFF_SECONDS", 0)
    return fake


def test_a_parsed_line_comes_back_ok_as_a_base64_json_line():
    response = invoke(firehose_event([b64(COMMON)]))
    [entry] = response["records"]
    assert (entry["recordId"], entry["result"]) == ("id-000000", "Ok")
    assert decoded_json(entry) == parse.parse_log_line(COMMON)


@pytest.mark.parametrize("data", [
    b64(b"this is not an access log line\n"),
    b64(COMMON.rstrip(b"\n") + b"\xff\xfe\n"),  # not UTF-8
    b64(b""),
    b64(b"\n"),
    "not*base64!",
    "QUJD",  # valid base64 of "ABC", not a log line
    "QUJ",  # truncated base64
], ids=["malformed", "non-utf8", "empty", "newline-only", "not-base64", "abc", "truncated"])
def test_a_line_that_does_not_parse_comes_back_failed_with_its_original_data(data):
    [entry] = invoke(firehose_event([data]))["records"]
    assert entry == {"recordId": "id-000000", "result": "ProcessingFailed", "data": data}


def test_a_mixed_batch_returns_every_record_id_once_in_input_order():
    datas = [b64(COMMON), "%%%", b64(b"junk"), b64(COMMON), b64(b""), b64(COMMON)]
    record_ids = ["z", "a", "m", "b", "y", "c"]
    response = invoke(firehose_event(datas, record_ids))
    assert [entry["recordId"] for entry in response["records"]] == record_ids
    assert [entry["result"] for entry in response["records"]] == [
        "Ok", "ProcessingFailed", "ProcessingFailed", "Ok", "ProcessingFailed", "Ok"]


def test_an_empty_batch_returns_no_records():
    assert invoke(firehose_event([])) == {"records": []}


def test_nothing_overflows_and_no_aws_call_is_made_for_an_ordinary_batch(monkeypatch):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)

    def no_client(region):
        raise AssertionError("the handler called AWS without needing to")

    monkeypatch.setattr(log_transform, "firehose_client", no_client)
    response = invoke(firehose_event([b64(line) for line in access_lines(1000)]))
    assert {entry["result"] for entry in response["records"]} == {"Ok"}


def test_a_7mb_batch_stays_under_the_response_limit_and_reingests_the_overflow(firehose):
    lines = access_lines(19_000)
    datas = [b64(line) for line in lines]
    response = invoke(firehose_event(datas))

    assert len(json.dumps(response)) <= LAMBDA_RESPONSE_LIMIT
    entries = response["records"]
    assert [entry["recordId"] for entry in entries] == [f"id-{i:06d}" for i in range(len(lines))]
    ok = [i for i, entry in enumerate(entries) if entry["result"] == "Ok"]
    dropped = [i for i, entry in enumerate(entries) if entry["result"] == "Dropped"]
    assert dropped and len(ok) + len(dropped) == len(lines)  # nothing failed, nothing lost
    assert ok == list(range(len(ok)))  # the records that fit are the first ones
    # every Dropped record went back into the stream as its original line, once
    assert [data for call in firehose.calls for data in call] == [lines[i] for i in dropped]
    assert all(len(call) <= 500 for call in firehose.calls)


def test_overflow_that_firehose_keeps_rejecting_comes_back_failed_with_original_data(firehose):
    firehose.reject = 10**6  # every record of every call
    datas = [b64(line) for line in access_lines(19_000)]
    response = invoke(firehose_event(datas))

    assert len(json.dumps(response)) <= LAMBDA_RESPONSE_LIMIT
    failed = [(i, entry) for i, entry in enumerate(response["records"])
              if entry["result"] == "ProcessingFailed"]
    assert failed and all(entry["data"] == datas[i] for i, entry in failed)
    assert {entry["result"] for entry in response["records"]} == {"Ok", "ProcessingFailed"}
    assert len(firehose.calls) == log_transform.REINGEST_ATTEMPTS * -(-len(failed) // 500)


def stubbed_firehose(monkeypatch) -> tuple[object, Stubber]:
    client = boto3.client("firehose", region_name="eu-west-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    monkeypatch.setattr(log_transform, "firehose_client", lambda region: client)
    monkeypatch.setattr(log_transform, "REINGEST_BACKOFF_SECONDS", 0)
    return client, Stubber(client)


def budget_for_ok_records(datas: list[str], ok: int) -> int:
    """A response budget that fits exactly `ok` Ok records and the rest ProcessingFailed."""
    batch = load("log_transform", "log_transform_batch")
    results = [batch.transform_record(record) for record in firehose_event(datas)["records"]]
    entries = ([{"recordId": r.record_id, "result": "Ok", "data": r.output,
                 "metadata": {"partitionKeys": {"dt": r.partition}}} for r in results[:ok]]
               + [batch.failed_entry(r) for r in results[ok:]])
    return len(json.dumps({"records": entries}))


def test_reingestion_retries_only_the_records_firehose_rejected(monkeypatch):
    lines = access_lines(5)
    datas = [b64(line) for line in lines]
    monkeypatch.setattr(log_transform, "RESPONSE_BUDGET_BYTES", budget_for_ok_records(datas, 2))
    _, stubber = stubbed_firehose(monkeypatch)
    stubber.add_response(
        "put_record_batch",
        {"FailedPutCount": 1, "RequestResponses": [
            {"RecordId": "a"}, {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "busy"},
            {"RecordId": "c"}]},
        {"DeliveryStreamName": "access-logs", "Records": [{"Data": line} for line in lines[2:]]})
    stubber.add_response(
        "put_record_batch", {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "d"}]},
        {"DeliveryStreamName": "access-logs", "Records": [{"Data": lines[3]}]})

    with stubber:
        response = invoke(firehose_event(datas))
    stubber.assert_no_pending_responses()
    assert [entry["result"] for entry in response["records"]] == [
        "Ok", "Ok", "Dropped", "Dropped", "Dropped"]
    assert response["records"][2] == {"recordId": "id-000002", "result": "Dropped"}


def test_overflow_comes_back_failed_when_reingestion_is_not_allowed(monkeypatch):
    datas = [b64(line) for line in access_lines(3)]
    monkeypatch.setattr(log_transform, "RESPONSE_BUDGET_BYTES", budget_for_ok_records(datas, 1))
    _, stubber = stubbed_firehose(monkeypatch)
    for _ in range(log_transform.REINGEST_ATTEMPTS):
        stubber.add_client_error("put_record_batch", service_error_code="AccessDeniedException",
                                 http_status_code=400)

    with stubber:
        response = invoke(firehose_event(datas))
    stubber.assert_no_pending_responses()
    assert response["records"][1:] == [
        {"recordId": "id-000001", "result": "ProcessingFailed", "data": datas[1]},
        {"recordId": "id-000002", "result": "ProcessingFailed", "data": datas[2]},
    ]


def test_overflow_of_a_stream_fed_by_kinesis_comes_back_failed_without_a_put(firehose,
                                                                             monkeypatch):
    datas = [b64(line) for line in access_lines(3)]
    event = firehose_event(datas)
    event["sourceKinesisStreamArn"] = "arn:aws:kinesis:eu-west-1:123456789012:stream/logs"
    monkeypatch.setattr(log_transform, "RESPONSE_BUDGET_BYTES", budget_for_ok_records(datas, 2))

    response = invoke(event)
    assert [entry["result"] for entry in response["records"]] == ["Ok", "Ok", "ProcessingFailed"]
    assert response["records"][2]["data"] == datas[2]
    assert firehose.calls == []


def test_handler_publishes_record_counts_as_metrics_in_the_refarch_namespace(firehose, capsys,
                                                                             monkeypatch):
    datas = [b64(line) for line in access_lines(4)] + [b64(b"junk")]
    monkeypatch.setattr(log_transform, "RESPONSE_BUDGET_BYTES", budget_for_ok_records(datas, 3))
    firehose.reject = 10**6
    invoke(firehose_event(datas))

    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{") and '"_aws"' in line]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "refarch"
    assert {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]} == dict.fromkeys(
        ["RecordsOk", "RecordsFailed", "RecordsOverflow", "RecordsReingested"], "Count")
    counts = {name: emf[name] for name in
              ("RecordsOk", "RecordsFailed", "RecordsOverflow", "RecordsReingested")}
    assert counts == {"RecordsOk": [3.0], "RecordsFailed": [1.0], "RecordsOverflow": [1.0],
                      "RecordsReingested": [0.0]}


# Property: whatever Firehose hands over, the handler answers for every record, once, in order.
_valid_line = st.builds(
    lambda ip, path, status, agent: (
        f'{ip} - - [01/Feb/2024:10:00:00 +0100] "GET {path} HTTP/1.1" {status} 12 "-" '
        f'"{agent}"\n').encode(),
    st.ip_addresses().map(str), st.from_regex(r"/[a-z0-9/?=&]{0,20}", fullmatch=True),
    st.integers(100, 599), st.text(st.characters(blacklist_characters='"\\\n\r', blacklist_categories=("Cs",)),
                                 max_size=30))  # no lone surrogates: log lines are UTF-8 text
_data = st.one_of(
    st.binary(max_size=300).map(b64),
    _valid_line.map(b64),
    st.text(max_size=40),  # almost never valid base64
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_data, max_size=20))
def test_handler_answers_every_record_once_in_order_whatever_the_data(datas):
    record_ids = [f"rec-{index}" for index in range(len(datas))]
    response = invoke(firehose_event(datas, record_ids))

    entries = response["records"]
    assert [entry["recordId"] for entry in entries] == record_ids
    for data, entry in zip(datas, entries):
        assert entry["result"] in {"Ok", "ProcessingFailed", "Dropped"}
        if entry["result"] == "Ok":
            assert list(decoded_json(entry)) == COLUMN_NAMES
        elif entry["result"] == "ProcessingFailed":
            assert entry["data"] == data
    json.dumps(response)  # serializable as the Lambda runtime will serialize it
