"""`refarch replay`: failed batches re-delivered from the stream to the real IoT writer, on moto.

The event source mapping is played by the test: it delivers a batch to the writer, retries
it, and when the retries are exhausted sends the on-failure record (shard, sequence range,
batch size, reason) to the failure queue, in the shape Lambda writes it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kinesis.models import kinesis_backends

from refarch import replay
from tests.lambda_loader import load

writer = load("iot_writer", "iot_writer")
REGION, STREAM = "us-east-1", "telemetry"
T0 = 1_714_564_800_000   # 2024-05-01T12:00:00Z
RETRIES = 3


class Context:
    function_name = "iot-writer"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:iot-writer"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        kinesis, sqs, sns, dynamodb = (boto3.client(s) for s in ("kinesis", "sqs", "sns", "dynamodb"))
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        kinesis.increase_stream_retention_period(StreamName=STREAM, RetentionPeriodHours=48)
        dynamodb.create_table(
            TableName="readings", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"},
                                  {"AttributeName": "ts", "AttributeType": "S"}])
        monkeypatch.setenv("QUARANTINE_QUEUE_URL", sqs.create_queue(QueueName="quarantine")["QueueUrl"])
        monkeypatch.setenv("ALERT_TOPIC_ARN", sns.create_topic(Name="alerts")["TopicArn"])
        monkeypatch.setenv("ALERT_RULES", "[]")
        monkeypatch.setenv("TABLE_NAME", "readings")
        failures = sqs.create_queue(QueueName="failed-batches")["QueueUrl"]
        yield kinesis, sqs, dynamodb, failures


def put_readings(kinesis, device: str, count: int, start_s: int = 0) -> list[str]:
    sequences = []
    for n in range(count):
        document = {"device_id": device, "ts": T0 + (start_s + n) * 1000, "temperature": 20.0 + n, "humidity": 40}
        sequences.append(kinesis.put_record(StreamName=STREAM, PartitionKey=device,
                                            Data=json.dumps(document).encode())["SequenceNumber"])
    return sequences


def shard_records(kinesis, sequences: list[str]) -> list[dict]:
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return [r for r in records if r["SequenceNumber"] in sequences]


def deliver_as_the_mapping_does(kinesis, sqs, failures: str, records: list[dict], *, arrived: datetime) -> dict:
    """Deliver `records` to the writer with retries; when they are exhausted, send the
    on-failure record of the still-failing tail to the queue. Returns the last response."""
    summary = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    pending = records
    for _ in range(RETRIES + 1):
        response = writer.handler(replay.kinesis_event(pending, shard_id=shard, stream_arn=summary["StreamARN"],
                                                       region=REGION), Context())
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        if not failed:
            return response
        pending = pending[[r["SequenceNumber"] for r in pending].index(min(failed, key=int)):]
    sqs.send_message(QueueUrl=failures, MessageBody=json.dumps({
        "requestContext": {"requestId": "r-1", "functionArn": Context.invoked_function_arn,
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": RETRIES + 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None},
        "version": "1.0", "timestamp": arrived.isoformat().replace("+00:00", "Z"),
        "KinesisBatchInfo": {
            "shardId": shard, "startSequenceNumber": pending[0]["SequenceNumber"],
            "endSequenceNumber": pending[-1]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrived.isoformat().replace("+00:00", "Z"),
            "approximateArrivalOfLastRecord": arrived.isoformat().replace("+00:00", "Z"),
            "batchSize": len(pending), "streamArn": summary["StreamARN"]}}))
    return response


def run_replay(kinesis, sqs, failures: str, **options) -> replay.ReplayReport:
    return replay.replay_failed_batches(
        sqs=sqs, kinesis=kinesis, queue_url=failures, stream_name=STREAM, region=REGION,
        deliver=lambda event: writer.handler(event, Context()), wait_seconds=0, **options)


def stored_keys(dynamodb) -> set[tuple[str, str]]:
    items = dynamodb.scan(TableName="readings")["Items"]
    return {(i["device_id"]["S"], i["ts"]["S"]) for i in items if i["ts"]["S"] != "LATEST"}


def waiting(sqs, queue: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_failed_records_still_failing_then_replayed_once_the_table_is_back(aws, monkeypatch):
    kinesis, sqs, dynamodb, failures = aws
    sequences = put_readings(kinesis, "sensor-1", 5)
    monkeypatch.setenv("TABLE_NAME", "readings-gone")        # the writer cannot reach its table
    deliver_as_the_mapping_does(kinesis, sqs, failures, shard_records(kinesis, sequences),
                                arrived=datetime.now(UTC))
    assert waiting(sqs, failures) == 1 and stored_keys(dynamodb) == set()

    still_broken = run_replay(kinesis, sqs, failures)
    assert (still_broken.replayed, still_broken.still_failing, still_broken.expired) == (0, 5, 0)
    assert [m.status for m in still_broken.messages] == ["still failing"]
    assert waiting(sqs, failures) == 1                        # kept, and visible again at once

    monkeypatch.setenv("TABLE_NAME", "readings")             # the table is back
    fixed = run_replay(kinesis, sqs, failures)

    assert (fixed.replayed, fixed.still_failing, fixed.expired, fixed.deleted) == (5, 0, 0, 1)
    assert fixed.succeeded and fixed.retention_hours == 48
    assert len(stored_keys(dynamodb)) == 5
    assert waiting(sqs, failures) == 0                        # deleted after its records were handled
    [row] = replay.report_rows(fixed)
    assert row == ("shardId-000000000000", f"{sequences[0]}..{sequences[-1]}", "RetryAttemptsExhausted",
                   "5", "0", "0", "deleted")


def test_records_past_the_streams_retention_are_reported_as_expired(aws, monkeypatch):
    kinesis, sqs, dynamodb, failures = aws
    old = put_readings(kinesis, "sensor-2", 3)
    recent = put_readings(kinesis, "sensor-3", 2, start_s=100)
    monkeypatch.setenv("TABLE_NAME", "readings-gone")
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    deliver_as_the_mapping_does(kinesis, sqs, failures, shard_records(kinesis, old), arrived=three_days_ago)
    deliver_as_the_mapping_does(kinesis, sqs, failures, shard_records(kinesis, recent), arrived=datetime.now(UTC))
    # The stream's retention (48 h) has passed for the old batch: Kinesis trimmed its records.
    shard = kinesis_backends[DEFAULT_ACCOUNT_ID][REGION].streams[STREAM].shards["shardId-000000000000"]
    for sequence in old:
        del shard.records[int(sequence)]
    monkeypatch.setenv("TABLE_NAME", "readings")

    report = run_replay(kinesis, sqs, failures)

    by_status = {m.status: m for m in report.messages}
    assert (by_status["expired"].expired, by_status["expired"].replayed, by_status["expired"].deleted) == (3, 0, False)
    assert (by_status["replayed"].replayed, by_status["replayed"].deleted) == (2, True)
    assert (report.replayed, report.still_failing, report.expired) == (2, 0, 3)
    assert stored_keys(dynamodb) == {("sensor-3", "2024-05-01T12:01:40.000Z"), ("sensor-3", "2024-05-01T12:01:41.000Z")}
    assert waiting(sqs, failures) == 1                        # the expired batch stays, for the record

    cleared = run_replay(kinesis, sqs, failures, delete_expired=True)
    assert ([m.status for m in cleared.messages], cleared.deleted) == (["expired"], 1)
    assert waiting(sqs, failures) == 0


def test_a_replay_stops_at_the_first_record_the_consumer_fails_and_keeps_the_message(aws):
    kinesis, sqs, dynamodb, failures = aws
    sequences = put_readings(kinesis, "sensor-4", 4)
    records = shard_records(kinesis, sequences)
    batch = replay.FailedBatch("shardId-000000000000", sequences[0], sequences[-1], 4,
                               "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry",
                               datetime.now(UTC), "RetryAttemptsExhausted")
    delivered = []

    def consumer(event):   # handles the first two, fails the third
        delivered.append([r["kinesis"]["sequenceNumber"] for r in event["Records"]])
        return {"batchItemFailures": [{"itemIdentifier": sequences[2]}]}

    outcome = replay.replay_batch(batch, kinesis=kinesis, stream_name=STREAM, retention=timedelta(hours=48),
                                  deliver=consumer, region=REGION, now=datetime.now(UTC))

    assert delivered == [[r["SequenceNumber"] for r in records]]
    assert (outcome.replayed, outcome.still_failing, outcome.deleted) == (2, 2, False)


def test_a_function_error_fails_every_record_of_the_delivery():
    records = [{"SequenceNumber": "1"}, {"SequenceNumber": "2"}]
    assert replay.first_failure({"FunctionError": "Unhandled"}, records) == 0
    assert replay.first_failure({"batchItemFailures": []}, records) is None
    assert replay.first_failure({"batchItemFailures": [{"itemIdentifier": "2"}]}, records) == 1
    assert replay.first_failure({"batchItemFailures": [{"itemIdentifier": "9"}]}, records) == 0


def test_a_message_that_is_not_a_failed_batch_is_kept_and_reported(aws):
    kinesis, sqs, _, failures = aws
    sqs.send_message(QueueUrl=failures, MessageBody='{"hello": "world"}')

    report = run_replay(kinesis, sqs, failures)

    assert [m.status for m in report.messages] == ["unreadable"]
    assert "KeyError" in report.messages[0].detail and not report.succeeded
    assert waiting(sqs, failures) == 1


def test_the_replay_reads_its_queue_function_and_stream_from_the_stacks_outputs():
    outputs = {"FailedBatchesQueueUrl": "https://q", "ConsumerFunctionName": "f", "ConsumedStreamName": "s"}
    assert replay.replay_outputs(outputs, "IotTelemetry") == ("https://q", "f", "s")
    with pytest.raises(ValueError, match="FirehoseParquet has no stream consumer to replay: its outputs lack "
                                         "FailedBatchesQueueUrl, ConsumerFunctionName, ConsumedStreamName"):
        replay.replay_outputs({"BucketName": "b"}, "FirehoseParquet")
