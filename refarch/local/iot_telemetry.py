"""IotTelemetry, run locally: devices -> Kinesis -> the real writer Lambda -> DynamoDB / SQS / SNS.

`run_iot_telemetry` generates seeded telemetry (with re-sent duplicates, re-sent readings
whose values differ (conflicts), late readings, malformed messages, readings sent in another
device's name and threshold breaches),
puts it into a moto Kinesis stream, reads it back shard by shard the way the event
source mapping does, and calls the real handler (lambda/iot_writer) with real Kinesis
event shapes. IoT Core itself is not emulated: the generator plays the topic rule, using
the sending device's id as the partition key.

Where the report's numbers come from, so that they check each other:
  sent                      the driver's successful PutRecords
  written, duplicates       the writer's own CloudWatch metrics (EMF lines it prints)
  quarantined by reason     the quarantine queue, one message per record
  conflicts                 the quarantine queue's conflict:values_differ messages, checked
                            against the writer's ReadingsConflicting metric
  failed                    records still reported as batch item failures after the
                            redeliveries (they would go to the on-failure destination)
  alerts, table items       the SNS subscription queue and a scan of the table
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.event_source_mapping import CONFLICT_REASON, EventSourceMapping
from refarch.local.engines.lambda_events import kinesis_event
from refarch.local.engines.lambda_runtime import FAKE_AWS, environment
from refarch.local.engines.moto_aws import drain, put_records, scan, shard_batches
from refarch.local.generators.telemetry import Rule, generate_telemetry
from refarch.local.reports.iot_telemetry import IotRunReport

REGION = "us-east-1"
STREAM, TABLE, QUARANTINE, TOPIC = "iot-telemetry", "iot-readings", "iot-quarantine", "iot-alerts"
LATEST = "LATEST"   # the sort key of a device's latest-state item
# The writer's logs stay quiet; its metrics are read back from what it prints.
WRITER_RUNTIME = {**FAKE_AWS, "POWERTOOLS_LOG_LEVEL": "WARNING",
                  "POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_DEV": "false"}


def run_iot_telemetry(devices: int = 50, readings_per_device: int = 20, *, seed: int = 7,
                      duplicate_rate: float = 0.05, malformed_rate: float = 0.02,
                      conflict_rate: float = 0.02, batch_size: int = 100, shards: int = 2,
                      alert_rules: Sequence[Rule] | None = None) -> IotRunReport:
    """Drive the pattern's data path under moto; `alert_rules` default to the setting's."""
    if alert_rules is None:
        from refarch.config import IotSettings
        alert_rules = IotSettings().alert_rules
    limits = {"devices": (devices, 1, 100_000), "readings_per_device": (readings_per_device, 1, 10_000),
              "batch_size": (batch_size, 1, 10_000), "shards": (shards, 1, 50),
              "duplicate_rate": (duplicate_rate, 0, 1), "malformed_rate": (malformed_rate, 0, 1),
              "conflict_rate": (conflict_rate, 0, 1)}
    for name, (value, low, high) in limits.items():
        if not low <= value <= high:
            raise ValueError(f"{name}={value}: allowed {low} to {high}")
    telemetry = generate_telemetry(devices, readings_per_device, seed=seed, rules=alert_rules,
                                   duplicate_rate=duplicate_rate, malformed_rate=malformed_rate,
                                   conflict_rate=conflict_rate)
    try:   # the emulator and the handler's runtime library are development extras
        import aws_lambda_powertools  # noqa: F401
        import boto3
        from moto import mock_aws
    except ImportError as missing:
        raise ImportError(f"the IotTelemetry local run needs {missing.name}:"
                          " pip install -e '.[dev]'") from missing

    with environment(WRITER_RUNTIME), mock_aws():
        aws = _Resources.create(boto3.Session(region_name=REGION), shards, alert_rules)
        with environment(aws.writer_environment()):
            writer = load_lambda_module("iot_writer", "iot_writer")
            sent = put_records(aws.session.client("kinesis"), STREAM, telemetry.records)
            mapping = EventSourceMapping(aws)
            for shard_id, records in shard_batches(aws.session.client("kinesis"), STREAM, batch_size):
                mapping.deliver(writer.handler, shard_id, records)
            items = scan(aws.session.client("dynamodb"), aws.table)
            alerts = len(aws.drain(aws.alerts_url))

    latest = {i["device_id"]["S"]: i["reading_ts"]["S"] for i in items if i["ts"]["S"] == LATEST}
    newest: dict[str, str] = {}
    for item in items:
        if item["ts"]["S"] != LATEST:
            newest[item["device_id"]["S"]] = max(newest.get(item["device_id"]["S"], ""), item["ts"]["S"])
    reasons = Counter(mapping.quarantined.values())
    conflicts = reasons.pop(CONFLICT_REASON, 0)
    return IotRunReport(
        sent=sent, written=mapping.written, duplicates_skipped=mapping.duplicates, conflicts=conflicts,
        quarantined_by_reason=dict(sorted(reasons.items())), writer_conflicts=mapping.writer_conflicts,
        alerts_published=alerts, failed=len(mapping.failed), items_in_table=len(items),
        latest_state_items=len(latest),
        stale_latest_states=sum(1 for device, ts in newest.items() if latest.get(device) != ts),
        writer_quarantined=mapping.writer_quarantined, writer_alerts=mapping.writer_alerts,
        invocations=mapping.invocations, redeliveries=mapping.redeliveries, injected=telemetry.injected)


@dataclass
class _Resources:
    """The pattern's AWS resources inside moto, as the stack creates them."""

    session: Any
    stream_arn: str
    table: str
    quarantine_url: str
    alerts_url: str
    topic_arn: str
    alert_rules: Sequence[Rule]

    @classmethod
    def create(cls, session: Any, shards: int, alert_rules: Sequence[Rule]) -> _Resources:
        kinesis, sqs, sns = session.client("kinesis"), session.client("sqs"), session.client("sns")
        kinesis.create_stream(StreamName=STREAM, ShardCount=shards)
        stream_arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
        session.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"},
                       {"AttributeName": "ts", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"},
                                  {"AttributeName": "ts", "AttributeType": "S"}])
        quarantine_url = sqs.create_queue(QueueName=QUARANTINE)["QueueUrl"]
        # Alerts are counted from a queue subscribed to the topic, as an operator would.
        alerts_url = sqs.create_queue(QueueName=f"{TOPIC}-subscriber")["QueueUrl"]
        alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_arn,
                      Attributes={"RawMessageDelivery": "true"})
        return cls(session, stream_arn, TABLE, quarantine_url, alerts_url, topic_arn, alert_rules)

    def writer_environment(self) -> dict[str, str | None]:
        return {"TABLE_NAME": self.table, "QUARANTINE_QUEUE_URL": self.quarantine_url,
                "ALERT_TOPIC_ARN": self.topic_arn, "ALERT_RULES": json.dumps([{"metric": m, "op": op, "value": v}
                                           for m, op, v in self.alert_rules]),
                "TTL_DAYS": "30"}

    # What the event source mapping asks of the stream and the quarantine queue.
    def kinesis_event(self, shard_id: str, records: list[dict]) -> dict:
        return kinesis_event(records, shard_id=shard_id, stream_arn=self.stream_arn, region=REGION,
                             role_arn=f"arn:aws:iam::123456789012:role/{STREAM}-writer")

    def drain(self, queue_url: str) -> list[dict]:
        return drain(self.session.client("sqs"), queue_url)
