"""The placement updater against moto: conditional, monotonic ranking writes; smoothing and
the threshold; quarantine; partial batch failures; the real handler."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from tests.lambda_loader import load

updater = load("placement_updater", "placement_updater")
batch = load("placement_updater", "placement_batch")
scoring = load("placement_updater", "placement_scoring")
store_module = load("placement_updater", "placement_store")

RULES = scoring.ScoringRules(prior_ctr=0.01, prior_impressions=100, min_impressions=30)
T0 = "2024-05-01T12:00:00"
T0_MS = 1_714_564_800_000
MINUTE_MS = 60_000


def window(placement: str, ad: str, end_minute: int, impressions: int, clicks: int, unattributed: int = 0) -> dict:
    start, end = f"2024-05-01T12:{end_minute - 5:02d}:00", f"2024-05-01T12:{end_minute:02d}:00"
    return {"window_start": start, "window_end": end, "placement_id": placement, "ad_id": ad,
            "impressions": impressions, "clicks": clicks, "unattributed_clicks": unattributed,
            "ctr": clicks / impressions if impressions else None}


def kinesis_event(*payloads, first_sequence: int = 0) -> dict:
    records = []
    for index, payload in enumerate(payloads, start=first_sequence):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        key = payload["placement_id"] if isinstance(payload, dict) and "placement_id" in payload else "unknown"
        sequence = f"4959{index:052d}"
        records.append({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": key, "sequenceNumber": sequence,
                                    "data": base64.b64encode(raw).decode(), "approximateArrivalTimestamp": 1.0},
                        "eventSource": "aws:kinesis", "eventID": f"shardId-000000000000:{sequence}",
                        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/ctr"})
    return {"Records": records}


@dataclass
class Aws:
    dynamodb: object
    sqs: object
    table: str
    quarantine_url: str

    def item(self, placement: str) -> dict | None:
        return self.dynamodb.get_item(TableName=self.table, Key={"placement_id": {"S": placement}}).get("Item")

    def ranking(self, placement: str) -> dict[str, tuple]:
        item = self.item(placement)
        return {ad: (int(v["M"]["impressions"]["N"]), int(v["M"]["clicks"]["N"]), float(v["M"]["score"]["N"]),
                     v["M"]["eligible"]["BOOL"]) for ad, v in item["ranking"]["M"].items()}

    def quarantined(self) -> list[dict]:
        found = []
        while received := self.sqs.receive_message(QueueUrl=self.quarantine_url, MaxNumberOfMessages=10).get("Messages"):
            found += [json.loads(m["Body"]) for m in received]
            for m in received:
                self.sqs.delete_message(QueueUrl=self.quarantine_url, ReceiptHandle=m["ReceiptHandle"])
        return found

    def process(self, event: dict, store=None):
        records = [batch.StreamRecord.from_event(r) for r in event["Records"]]
        return batch.process_batch(records, store or store_module.DynamoPlacementStore(self.dynamodb, self.table),
                                   store_module.SqsQuarantine(self.sqs, self.quarantine_url),
                                   rules=RULES, ttl_hours=24)


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        from refarch.local.adtech import create_placements_table
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        create_placements_table(dynamodb, "placements")
        queue = sqs.create_queue(QueueName="quarantine")["QueueUrl"]
        for name, value in {"TABLE_NAME": "placements", "QUARANTINE_QUEUE_URL": queue, "PRIOR_CTR": "0.01",
                            "PRIOR_IMPRESSIONS": "100", "MIN_IMPRESSIONS": "30", "RANKING_TTL_HOURS": "24"}.items():
            monkeypatch.setenv(name, value)
        yield Aws(dynamodb, sqs, "placements", queue)


@dataclass
class LambdaContext:
    function_name: str = "placement-updater"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:placement-updater"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


# --- scoring: pure -------------------------------------------------------------------

def test_the_prior_keeps_two_impressions_and_a_click_below_ten_thousand_and_three_hundred():
    no_threshold = scoring.ScoringRules(prior_ctr=0.01, prior_impressions=100, min_impressions=0)
    lucky = scoring.entry(2, 1, 0, no_threshold)
    proven = scoring.entry(10_000, 300, 0, no_threshold)
    assert (lucky.score, proven.score) == (round(2 / 102, 6), round(301 / 10_100, 6))
    assert scoring.ranked({"lucky": lucky, "proven": proven}) == ["proven", "lucky"]


def test_below_the_threshold_an_ad_scores_the_prior_and_is_not_eligible():
    few = scoring.entry(29, 9, 0, RULES)
    enough = scoring.entry(30, 1, 0, RULES)
    assert (few.score, few.eligible) == (0.01, False)
    assert (enough.score, enough.eligible) == (round(2 / 130, 6), True)
    # An eligible ad below the prior ranks under an unproven one; above it, over it.
    poor = scoring.entry(5_000, 20, 0, RULES)
    assert scoring.ranked({"few": few, "enough": enough, "poor": poor}) == ["enough", "few", "poor"]


def test_ties_are_broken_by_impressions_then_ad_id():
    a, b, c = (scoring.entry(10, 0, 0, RULES) for _ in range(3))
    big = scoring.entry(20, 0, 0, RULES)
    assert scoring.ranked({"c": c, "b": b, "a": a, "big": big}) == ["big", "a", "b", "c"]


def test_scoring_rules_refuse_values_outside_their_range():
    with pytest.raises(ValueError, match="prior_ctr=1.5"):
        scoring.ScoringRules(prior_ctr=1.5)
    with pytest.raises(ValueError, match="min_impressions=-1"):
        scoring.ScoringRules(min_impressions=-1)


# --- writes against moto -------------------------------------------------------------

def test_a_window_becomes_the_placements_ranking_with_a_ttl(aws):
    result = aws.process(kinesis_event(window("home", "ad-a", 5, 1000, 30), window("home", "ad-b", 5, 10, 3)))
    assert (result.writes, result.records) == ({"replaced": 1}, {"ranked": 2})
    item = aws.item("home")
    assert item["window_start"] == {"N": str(T0_MS)} and item["window_end"] == {"N": str(T0_MS + 5 * MINUTE_MS)}
    assert item["expires_at"] == {"N": str((T0_MS + 5 * MINUTE_MS) // 1000 + 24 * 3600)}
    assert aws.ranking("home") == {"ad-a": (1000, 30, round(31 / 1100, 6), True), "ad-b": (10, 3, 0.01, False)}


def test_an_older_window_never_overwrites_a_newer_one(aws):
    aws.process(kinesis_event(window("home", "ad-a", 7, 500, 50)))
    result = aws.process(kinesis_event(window("home", "ad-a", 6, 900, 9), window("home", "ad-b", 6, 900, 90)))
    assert result.writes == {"stale": 1}
    assert aws.item("home")["window_end"] == {"N": str(T0_MS + 7 * MINUTE_MS)}
    assert aws.ranking("home") == {"ad-a": (500, 50, round(51 / 600, 6), True)}


def test_a_newer_window_replaces_the_whole_ranking(aws):
    aws.process(kinesis_event(window("home", "ad-a", 5, 500, 5), window("home", "ad-b", 5, 500, 50)))
    aws.process(kinesis_event(window("home", "ad-c", 6, 400, 20)))
    assert set(aws.ranking("home")) == {"ad-c"}


def test_a_redelivered_batch_changes_nothing(aws):
    event = kinesis_event(window("home", "ad-a", 5, 1000, 30), window("home", "ad-b", 5, 200, 9),
                          window("side", "ad-a", 6, 300, 3), window("side", "ad-a", 7, 320, 4))
    first = aws.process(event)
    before = {p: aws.item(p) for p in ("home", "side")}
    again = aws.process(event)
    assert first.writes == {"replaced": 2} and first.records == {"ranked": 3, "superseded": 1}
    assert again.writes == {"unchanged": 2} and not again.failed_sequence_numbers
    assert {p: aws.item(p) for p in ("home", "side")} == before


def test_a_windows_ads_split_over_two_batches_are_merged(aws):
    aws.process(kinesis_event(window("home", "ad-a", 5, 1000, 30)))
    result = aws.process(kinesis_event(window("home", "ad-b", 5, 800, 40)))
    assert result.writes == {"merged": 1}
    assert set(aws.ranking("home")) == {"ad-a", "ad-b"}


def test_the_newest_window_in_a_batch_is_the_only_write_for_its_placement(aws, monkeypatch):
    calls = []
    real = store_module.DynamoPlacementStore(aws.dynamodb, aws.table)
    monkeypatch.setattr(real, "write", lambda ranking: calls.append(ranking.window_end_ms) or "replaced")
    aws.process(kinesis_event(*(window("home", "ad-a", m, 100, 1) for m in (5, 6, 7))), store=real)
    assert calls == [T0_MS + 7 * MINUTE_MS]


def test_windows_without_impressions_are_not_ranked(aws):
    result = aws.process(kinesis_event(window("home", "ad-a", 5, 0, 2, unattributed=1)))
    assert result.records == {"no_impressions": 1} and aws.item("home") is None


def test_malformed_records_are_quarantined_with_their_reason(aws):
    bad = [b"{not json", json.dumps({"placement_id": "home"}).encode(),
           json.dumps(window("home page", "ad-a", 5, 1, 0)).encode(),
           json.dumps(window("home", "ad-a", 5, -1, 0)).encode(),
           json.dumps(window("home", "ad-a", 5, 10, 1) | {"window_end": T0}).encode()]
    result = aws.process(kinesis_event(*bad))
    assert result.quarantined_by_reason == {"invalid_json": 1, "missing:window_start": 1, "invalid:placement_id": 1,
                                            "invalid:impressions": 1, "invalid:window_end": 1}
    messages = aws.quarantined()
    assert sorted(m["reason"] for m in messages) == sorted(result.quarantined_by_reason)
    assert next(m for m in messages if m["reason"] == "invalid_json")["data"] == "{not json"


class ThrottledStore:
    def write(self, ranking):
        raise store_module.StoreUnavailable("ProvisionedThroughputExceededException: slow down")


def test_a_failed_write_reports_every_record_of_its_placement(aws):
    event = kinesis_event(window("home", "ad-a", 5, 10, 1), window("home", "ad-a", 6, 10, 1), b"oops")
    result = aws.process(event, store=ThrottledStore())
    assert result.writes == {"failed": 1}
    assert result.response() == {"batchItemFailures": [
        {"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"][:2]]}
    assert result.quarantined_by_reason == {"invalid_json": 1}


def test_a_missing_table_is_a_transient_failure_not_an_exception(aws):
    store = store_module.DynamoPlacementStore(aws.dynamodb, "no-such-table")
    result = aws.process(kinesis_event(window("home", "ad-a", 5, 10, 1)), store=store)
    assert result.writes == {"failed": 1} and len(result.failed_sequence_numbers) == 1


# --- the handler -----------------------------------------------------------------------

def test_the_handler_writes_rankings_and_reports_partial_failures(aws):
    response = updater.handler(kinesis_event(window("home", "ad-a", 5, 100, 9), b"[1, 2]"), LambdaContext())
    assert response == {"batchItemFailures": []}
    assert aws.ranking("home") == {"ad-a": (100, 9, round(10 / 200, 6), True)}
    assert [m["reason"] for m in aws.quarantined()] == ["invalid_json"]


@pytest.mark.parametrize(("variable", "value"), [("PRIOR_CTR", "0"), ("PRIOR_CTR", "abc"), ("MIN_IMPRESSIONS", "-2"),
                                                 ("RANKING_TTL_HOURS", "0"), ("QUARANTINE_QUEUE_URL", "queue")])
def test_bad_configuration_names_the_variable(variable, value):
    environ = {"TABLE_NAME": "t", "QUARANTINE_QUEUE_URL": "https://sqs/q", variable: value}
    with pytest.raises(updater.ConfigError, match=rf"^{variable}="):
        updater.load_config(environ)


def test_configuration_defaults_match_the_settings_defaults():
    from refarch.config import AdTechSettings

    config = updater.load_config({"TABLE_NAME": "t", "QUARANTINE_QUEUE_URL": "https://sqs/q"})
    settings = AdTechSettings()
    assert (config.rules.prior_ctr, config.rules.prior_impressions, config.rules.min_impressions, config.ttl_hours) == (
        settings.prior_ctr, settings.prior_impressions, settings.min_impressions, settings.ranking_ttl_hours)
