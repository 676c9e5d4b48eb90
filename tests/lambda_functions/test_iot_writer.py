"""The writer against moto: DynamoDB table, SQS quarantine, SNS alerts, the real handler."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from tests.lambda_loader import load

writer = load("iot_writer", "iot_writer")
aws_adapters = load("iot_writer", "iot_writer_aws")
batch = load("iot_writer", "iot_writer_batch")
schema = load("iot_writer", "iot_writer_schema")

T0 = 1_714_564_800_000   # 2024-05-01T12:00:00Z
TTL_SECONDS = 30 * 86_400
RULES = '[{"metric": "temperature", "op": ">", "value": 80}]'
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry"


@dataclass
class Aws:
    dynamodb: object
    sqs: object
    table: str
    quarantine_url: str
    alerts_url: str   # an SQS queue subscribed to the alert topic (raw delivery)
    topic_arn: str

    def items(self) -> list[dict]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.table)
        return sorted((item for page in pages for item in page["Items"]),
                      key=lambda i: (i["device_id"]["S"], i["ts"]["S"]))

    def item(self, device_id: str, ts: str) -> dict | None:
        return self.dynamodb.get_item(TableName=self.table, Key={
            "device_id": {"S": device_id}, "ts": {"S": ts}}).get("Item")

    def messages(self, url: str) -> list[dict]:
        found = []
        while received := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                 MessageAttributeNames=["All"]).get("Messages"):
            found += received
            for message in received:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def store(self, client=None, **options):
        return aws_adapters.DynamoReadingStore(client or self.dynamodb, self.table, ttl_days=30, **options)

    def process(self, records, store=None):
        return batch.process_batch(
            records, store or self.store(), aws_adapters.SqsQuarantine(self.sqs, self.quarantine_url),
            aws_adapters.SnsAlerts(boto3.client("sns"), self.topic_arn),
            rules=schema.parse_alert_rules(RULES))


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        dynamodb, sqs, sns = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("sns")
        dynamodb.create_table(
            TableName="readings", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"},
                       {"AttributeName": "ts", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"},
                                  {"AttributeName": "ts", "AttributeType": "S"}])
        dynamodb.update_time_to_live(TableName="readings", TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires_at"})
        quarantine_url = sqs.create_queue(QueueName="quarantine")["QueueUrl"]
        alerts_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])
        topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_arn["Attributes"]["QueueArn"],
                      Attributes={"RawMessageDelivery": "true"})
        for name, value in {"TABLE_NAME": "readings", "QUARANTINE_QUEUE_URL": quarantine_url,
                            "ALERT_TOPIC_ARN": topic_arn, "ALERT_RULES": RULES}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("TTL_DAYS", raising=False)
        yield Aws(dynamodb, sqs, "readings", quarantine_url, alerts_url, topic_arn)


@dataclass
class LambdaContext:
    function_name: str = "iot-writer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:iot-writer"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def reading(device: str, offset_s: int, temperature: float = 21.5, **extra) -> dict:
    return {"device_id": device, "ts": T0 + offset_s * 1000, "temperature": temperature,
            "humidity": 40} | extra


def iso(offset_s: int) -> str:
    return schema.format_ts(T0 + offset_s * 1000)


def kinesis_event(*payloads, first_sequence: int = 0) -> dict:
    """A Lambda Kinesis event as the event source mapping delivers it (one shard)."""
    records = []
    for index, payload in enumerate(payloads, start=first_sequence):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sequence = f"4959{index:052d}"
        partition_key = payload["device_id"] if isinstance(payload, dict) else "unknown"
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": partition_key,
                        "sequenceNumber": sequence, "data": base64.b64encode(raw).decode(),
                        "approximateArrivalTimestamp": 1714564800.123},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{sequence}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/iot-writer",
            "awsRegion": "us-east-1", "eventSourceARN": STREAM_ARN})
    return {"Records": records}


def stream_records(event: dict) -> list:
    return [batch.StreamRecord.from_event(r) for r in event["Records"]]


def expected_item(device: str, offset_s: int, temperature: float, humidity: float, **extra) -> dict:
    epoch_s = T0 // 1000 + offset_s
    item = {"device_id": {"S": device}, "ts": {"S": iso(offset_s)}, "expires_at": {"N": str(epoch_s + TTL_SECONDS)},
            "temperature": {"N": repr(float(temperature))}, "humidity": {"N": repr(float(humidity))}}
    return item | {name: {"N": repr(float(value))} for name, value in extra.items()}


def test_a_valid_batch_writes_exactly_the_expected_items(aws):
    event = kinesis_event(reading("sensor-1", 0), reading("sensor-1", 60, battery=87),
                          reading("sensor-2", 0, temperature=19))

    assert writer.handler(event, LambdaContext()) == {"batchItemFailures": []}

    readings = [i for i in aws.items() if i["ts"]["S"] != "LATEST"]
    assert readings == [expected_item("sensor-1", 0, 21.5, 40),
                        expected_item("sensor-1", 60, 21.5, 40, battery=87),
                        expected_item("sensor-2", 0, 19, 40)]
    assert [(i["device_id"]["S"], i["reading_ts"]["S"]) for i in aws.items() if i["ts"]["S"] == "LATEST"] == [
        ("sensor-1", iso(60)), ("sensor-2", iso(0))]


def test_redelivering_the_same_batch_writes_nothing_new_and_counts_the_duplicates(aws):
    records = stream_records(kinesis_event(*(reading(f"sensor-{n % 3}", n) for n in range(12))))
    first = aws.process(records)
    table_after_first = aws.items()

    again = aws.process(records)

    assert (first.written, first.duplicates) == (12, 0)
    assert (again.written, again.duplicates, again.failed_sequence_numbers) == (0, 12, [])
    assert aws.items() == table_after_first
    assert len(table_after_first) == 12 + 3   # readings + one latest state per device


def test_one_malformed_record_is_quarantined_with_its_reason_and_the_others_are_written(aws):
    event = kinesis_event(reading("sensor-1", 0), reading("sensor-1", 60, temperature=900),
                          reading("sensor-1", 120))
    bad = event["Records"][1]["kinesis"]

    assert writer.handler(event, LambdaContext()) == {"batchItemFailures": []}

    [message] = aws.messages(aws.quarantine_url)
    assert json.loads(message["Body"]) == {
        "reason": "schema:temperature_out_of_range", "detail": "expected -40 to 125",
        "shard_id": "shardId-000000000000", "sequence_number": bad["sequenceNumber"],
        "partition_key": "sensor-1", "data": bad["data"]}
    assert message["MessageAttributes"]["reason"]["StringValue"] == "schema:temperature_out_of_range"
    assert [i["ts"]["S"] for i in aws.items() if i["ts"]["S"] != "LATEST"] == [iso(0), iso(120)]


def test_a_reading_in_another_devices_name_is_quarantined_and_the_others_are_written(aws):
    writer.handler(kinesis_event(reading("sensor-2", 0, temperature=19)), LambdaContext())
    # sensor-1, allowed to publish only on devices/sensor-1/telemetry, sends a newer reading as sensor-2.
    event = kinesis_event(reading("sensor-1", 0), reading("sensor-2", 60, temperature=95),
                          reading("sensor-1", 60), first_sequence=1)
    spoofed = event["Records"][1]["kinesis"]
    spoofed["partitionKey"] = "sensor-1"

    assert writer.handler(event, LambdaContext()) == {"batchItemFailures": []}

    [message] = aws.messages(aws.quarantine_url)
    assert json.loads(message["Body"]) == {
        "reason": "schema:device_id_mismatch",
        "detail": "payload device_id 'sensor-2' != partition key 'sensor-1'",
        "shard_id": "shardId-000000000000", "sequence_number": spoofed["sequenceNumber"],
        "partition_key": "sensor-1", "data": spoofed["data"]}
    assert message["MessageAttributes"]["reason"]["StringValue"] == "schema:device_id_mismatch"
    assert [(i["device_id"]["S"], i["ts"]["S"]) for i in aws.items() if i["ts"]["S"] != "LATEST"] == [
        ("sensor-1", iso(0)), ("sensor-1", iso(60)), ("sensor-2", iso(0))]
    assert aws.item("sensor-2", "LATEST")["reading_ts"] == {"S": iso(0)}   # not moved by the spoof
    assert aws.messages(aws.alerts_url) == []                              # nor alerted on


class UnprocessedWrites:
    """A DynamoDB client whose BatchWriteItem of readings leaves the last `count` items
    unprocessed, on the first call only or on every call (latest-state writes pass)."""

    def __init__(self, client, *, count: int, every_call: bool) -> None:
        self.client, self.count, self.every_call, self.calls = client, count, every_call, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_write_item(self, RequestItems):
        [(table, requests)] = RequestItems.items()
        if all(r["PutRequest"]["Item"]["ts"]["S"] == "LATEST" for r in requests):
            return self.client.batch_write_item(RequestItems=RequestItems)
        self.calls += 1
        if self.calls > 1 and not self.every_call:
            return self.client.batch_write_item(RequestItems=RequestItems)
        keep, hold = requests[:-self.count], requests[-self.count:]
        if keep:
            self.client.batch_write_item(RequestItems={table: keep})
        return {"UnprocessedItems": {table: hold}}


def test_unprocessed_items_are_written_on_retry_after_a_jittered_backoff(aws):
    sleeps: list[float] = []
    client = UnprocessedWrites(aws.dynamodb, count=2, every_call=False)
    store = aws.store(client, sleep=sleeps.append, rand=lambda: 0.5)
    records = stream_records(kinesis_event(*(reading("sensor-1", n) for n in range(5))))

    result = aws.process(records, store)

    assert (result.written, result.failed_sequence_numbers) == (5, [])
    assert len([i for i in aws.items() if i["ts"]["S"] != "LATEST"]) == 5
    assert (client.calls, sleeps) == (2, [0.5 * 0.05])


def test_items_still_unprocessed_after_the_last_attempt_are_exactly_the_batch_item_failures(aws):
    sleeps: list[float] = []
    client = UnprocessedWrites(aws.dynamodb, count=2, every_call=True)
    store = aws.store(client, sleep=sleeps.append, rand=lambda: 1.0, max_attempts=4)
    records = stream_records(kinesis_event(*(reading("sensor-1", n) for n in range(5))))

    result = aws.process(records, store)

    assert result.response() == {"batchItemFailures": [
        {"itemIdentifier": records[3].sequence_number}, {"itemIdentifier": records[4].sequence_number}]}
    assert [i["ts"]["S"] for i in aws.items() if i["ts"]["S"] != "LATEST"] == [iso(0), iso(1), iso(2)]
    assert sleeps == [0.05, 0.1, 0.2]   # doubling, none after the last attempt


class UnprocessedLatestStates:
    """A DynamoDB client that never processes latest-state items of `device`."""

    def __init__(self, client, device: str) -> None:
        self.client, self.device = client, device

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_write_item(self, RequestItems):
        [(table, requests)] = RequestItems.items()
        def held(request):
            item = request["PutRequest"]["Item"]
            return item["ts"]["S"] == "LATEST" and item["device_id"]["S"] == self.device
        passed = [r for r in requests if not held(r)]
        if passed:
            self.client.batch_write_item(RequestItems={table: passed})
        return {"UnprocessedItems": {table: [r for r in requests if held(r)]}}


def test_a_latest_state_that_cannot_be_written_fails_its_devices_readings_before_they_are_written(aws):
    records = stream_records(kinesis_event(reading("sensor-1", 0), reading("sensor-2", 0), reading("sensor-1", 60)))
    store = aws.store(UnprocessedLatestStates(aws.dynamodb, "sensor-1"), sleep=lambda _: None)

    result = aws.process(records, store)

    assert result.failed_sequence_numbers == [records[0].sequence_number, records[2].sequence_number]
    assert [(i["device_id"]["S"], i["ts"]["S"]) for i in aws.items()] == [
        ("sensor-2", iso(0)), ("sensor-2", "LATEST")]   # sensor-1 comes back whole on redelivery


def test_writes_go_out_in_chunks_of_25(aws):
    calls: list[int] = []
    aws.dynamodb.meta.events.register("provide-client-params.dynamodb.BatchWriteItem",
                                      lambda params, **_: calls.append(len(params["RequestItems"]["readings"])))
    result = aws.process(stream_records(kinesis_event(*(reading("sensor-1", n) for n in range(60)))))
    assert (result.written, calls) == (60, [1, 25, 25, 10])   # the latest state first, then readings


class UnprocessedReads:
    """A DynamoDB client whose first BatchGetItem answers nothing and returns every key unprocessed."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_get_item(self, RequestItems):
        self.calls += 1
        if self.calls == 1:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return self.client.batch_get_item(RequestItems=RequestItems)


def test_unprocessed_keys_of_the_duplicate_check_are_retried(aws):
    records = stream_records(kinesis_event(reading("sensor-1", 0), reading("sensor-1", 1)))
    aws.process(records)
    client = UnprocessedReads(aws.dynamodb)

    again = aws.process(records, aws.store(client, sleep=lambda _: None))

    assert (client.calls, again.duplicates, again.failed_sequence_numbers) == (2, 2, [])


class OneDeviceThrottled:
    """BatchGetItem answers every key but `device`'s, which come back unprocessed; the
    retry for them is throttled (ProvisionedThroughputExceededException) every time."""

    def __init__(self, client, device: str) -> None:
        self.client, self.device, self.calls = client, device, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_get_item(self, RequestItems):
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls > 1:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "Rate of requests exceeds the allowed throughput"}},
                              "BatchGetItem")
        [(table, request)] = RequestItems.items()
        held = [k for k in request["Keys"] if k["device_id"]["S"] == self.device]
        answered = [k for k in request["Keys"] if k["device_id"]["S"] != self.device]
        response = self.client.batch_get_item(RequestItems={table: {**request, "Keys": answered}})
        response["UnprocessedKeys"] = {table: {**request, "Keys": held}}
        return response


def test_a_throttled_lookup_for_one_device_fails_only_that_devices_readings(aws):
    aws.process(stream_records(kinesis_event(reading("sensor-1", 0))))     # a stored one: a duplicate below
    records = stream_records(kinesis_event(
        reading("sensor-1", 0), reading("sensor-1", 60), reading("sensor-3", 0),
        reading("sensor-2", 0), reading("sensor-1", 120), reading("sensor-2", 60), reading("sensor-3", 60),
        first_sequence=10))
    client = OneDeviceThrottled(aws.dynamodb, "sensor-2")

    result = aws.process(records, aws.store(client, sleep=lambda _: None))

    sensor_2 = [r.sequence_number for r in records if r.partition_key == "sensor-2"]
    assert result.failed_sequence_numbers == sensor_2     # not the batch: only the unanswered device
    first_failure = [r.sequence_number for r in records].index(sensor_2[0])
    assert all(result.outcomes[r.sequence_number] != "failed" for r in records[:first_failure])
    assert [result.outcomes[r.sequence_number] for r in records] == [
        "duplicate", "written", "written", "failed", "written", "failed", "written"]
    assert {(i["device_id"]["S"], i["ts"]["S"]) for i in aws.items()} == {
        ("sensor-1", iso(0)), ("sensor-1", iso(60)), ("sensor-1", iso(120)), ("sensor-1", "LATEST"),
        ("sensor-3", iso(0)), ("sensor-3", iso(60)), ("sensor-3", "LATEST")}
    assert client.calls == 2


def test_a_resent_reading_with_other_values_is_quarantined_as_a_conflict_with_both_versions(aws):
    writer.handler(kinesis_event(reading("sensor-1", 0, temperature=21.5)), LambdaContext())
    event = kinesis_event(reading("sensor-1", 0, temperature=24.0), first_sequence=1)

    response = writer.handler(event, LambdaContext())

    assert response == {"batchItemFailures": []}
    [message] = aws.messages(aws.quarantine_url)
    body = json.loads(message["Body"])
    assert (body["reason"], body["partition_key"], body["sequence_number"], body["data"]) == (
        "conflict:values_differ", "sensor-1", event["Records"][0]["kinesis"]["sequenceNumber"],
        event["Records"][0]["kinesis"]["data"])
    assert body["detail"] == "stored temperature=21.5 humidity=40.0; received temperature=24.0 humidity=40.0"
    assert message["MessageAttributes"]["reason"]["StringValue"] == "conflict:values_differ"
    assert aws.item("sensor-1", iso(0)) == expected_item("sensor-1", 0, 21.5, 40)   # the first stays


def test_a_threshold_breach_publishes_one_alert_and_its_redelivery_publishes_none(aws):
    event = kinesis_event(reading("sensor-1", 0, temperature=92.5), reading("sensor-1", 60))

    writer.handler(event, LambdaContext())
    writer.handler(event, LambdaContext())

    [message] = aws.messages(aws.alerts_url)
    assert json.loads(message["Body"]) == {"device_id": "sensor-1", "metric": "temperature",
                                           "value": 92.5, "op": ">", "threshold": 80.0, "ts": iso(0)}


def test_latest_state_keeps_the_newest_reading_when_an_older_one_arrives_later(aws):
    writer.handler(kinesis_event(reading("sensor-1", 60, temperature=30, battery=50)), LambdaContext())
    writer.handler(kinesis_event(reading("sensor-1", 0, temperature=10, battery=90), first_sequence=1),
                   LambdaContext())
    writer.handler(kinesis_event(reading("sensor-1", 120, temperature=35), first_sequence=2), LambdaContext())

    assert aws.item("sensor-1", iso(0)) == expected_item("sensor-1", 0, 10, 40, battery=90)   # late, still written
    assert aws.item("sensor-1", "LATEST") == {
        "device_id": {"S": "sensor-1"}, "ts": {"S": "LATEST"}, "reading_ts": {"S": iso(120)},
        "temperature": {"N": "35.0"}, "humidity": {"N": "40.0"}}   # no battery: the newest had none


def test_aws_errors_become_batch_item_failures_not_exceptions(aws, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    event = kinesis_event(reading("sensor-1", 0), b"garbage", reading("sensor-2", 0))

    response = writer.handler(event, LambdaContext())

    sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": sequences[0]},
                                              {"itemIdentifier": sequences[2]}]}
    assert [json.loads(m["Body"])["reason"] for m in aws.messages(aws.quarantine_url)] == ["invalid_json"]


# --- configuration -------------------------------------------------------------------

GOOD_ENV = {"TABLE_NAME": "readings", "QUARANTINE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
            "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts", "ALERT_RULES": RULES}


def test_configuration_is_read_from_the_environment_with_a_30_day_default_ttl():
    config = writer.load_config(GOOD_ENV)
    assert (config.table_name, config.ttl_days, config.alert_rules) == (
        "readings", 30, (schema.AlertRule("temperature", ">", 80.0),))
    assert writer.load_config(GOOD_ENV | {"TTL_DAYS": "7"}).ttl_days == 7


@pytest.mark.parametrize("change, variable", [
    ({"TABLE_NAME": ""}, "TABLE_NAME"),
    ({"QUARANTINE_QUEUE_URL": None}, "QUARANTINE_QUEUE_URL"),
    ({"QUARANTINE_QUEUE_URL": "quarantine"}, "QUARANTINE_QUEUE_URL"),
    ({"ALERT_TOPIC_ARN": None}, "ALERT_TOPIC_ARN"),
    ({"ALERT_TOPIC_ARN": "arn:aws:sqs:us-east-1:1:q"}, "ALERT_TOPIC_ARN"),
    ({"ALERT_RULES": None}, "ALERT_RULES"),
    ({"ALERT_RULES": '[{"metric": "pressure", "op": ">", "value": 1}]'}, "ALERT_RULES"),
    ({"TTL_DAYS": "thirty"}, "TTL_DAYS"),
    ({"TTL_DAYS": "0"}, "TTL_DAYS"),
])
def test_bad_configuration_fails_with_an_error_naming_the_variable(change, variable):
    env = {k: v for k, v in (GOOD_ENV | change).items() if v is not None}
    with pytest.raises(writer.ConfigError, match=rf"^(environment variable )?{variable}\b"):
        writer.load_config(env)


def test_the_handler_refuses_to_start_without_its_configuration(monkeypatch):
    for name in GOOD_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(writer.ConfigError, match="TABLE_NAME"):
        writer.handler(kinesis_event(reading("sensor-1", 0)), LambdaContext())
