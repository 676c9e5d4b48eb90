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

import base64
import contextlib
import io
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.lambda_runtime import FAKE_AWS, LocalContext, environment

REGION = "us-east-1"
STREAM, TABLE, QUARANTINE, TOPIC = "iot-telemetry", "iot-readings", "iot-quarantine", "iot-alerts"
Rule = tuple[str, str, float]   # (metric, operator, threshold), as in the iot_alert_rules setting
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
LATEST = "LATEST"
MAX_REDELIVERIES = 3      # the event source mapping's retry_attempts
PUT_RECORDS_LIMIT = 500   # records per PutRecords call (our records are far below its 5 MiB)
START_MS = 1_714_521_600_000   # 2024-05-01T00:00:00Z: fixed, so a seeded run is reproducible

# Rates of the generator's other injections (duplicate, conflict and malformed rates are arguments).
LATE_RATE = 0.03          # a reading held back and sent after newer ones of its device
HOT_RATE = 0.03           # temperature above 80 (one alert)
LOW_BATTERY_RATE = 0.03   # battery below 10 (one alert)
# The quarantine reason the writer gives a conflicting reading.
CONFLICT_REASON = load_lambda_module("iot_writer", "iot_writer_batch").CONFLICT_REASON


# --- sample data ---------------------------------------------------------------------

def _json(document: dict) -> bytes:
    return json.dumps(document).encode()


# How a device garbles a message, and the reason code the writer must quarantine it with.
# Each takes the device's reading and another device's id, and gives the data the device
# sends on its own topic (so under its own id as the partition key).
MALFORMED: dict[str, Callable[[dict, str], bytes]] = {
    "invalid_json": lambda doc, other: _json(doc)[: len(_json(doc)) // 2],   # cut off mid-message
    "invalid_utf8": lambda doc, other: b"\xff\xfe" + _json(doc),
    "schema:temperature_out_of_range": lambda doc, other: _json(doc | {"temperature": 999.0}),
    "schema:humidity_out_of_range": lambda doc, other: _json(doc | {"humidity": 140}),
    "schema:ts_missing": lambda doc, other: _json({k: v for k, v in doc.items() if k != "ts"}),
    "schema:ts_invalid": lambda doc, other: _json(doc | {"ts": "2024-05-01T12:00:00"}),   # no time zone
    "schema:device_id_mismatch": lambda doc, other: _json(doc | {"device_id": other}),   # in another's name
}


@dataclass(frozen=True)
class Injected:
    """What the generator put into the stream, by kind: the truth a run is compared with."""
    readings: int                        # distinct valid readings (one table item each)
    duplicates: int                      # byte-identical re-sends of a reading
    conflicts: int                       # re-sends of a reading's key with another value
    malformed_by_reason: dict[str, int]
    late_readings: int                   # readings sent after newer ones of the same device
    alerts: int                          # rule breaches among the distinct readings
    devices: int

    @property
    def records(self) -> int:
        return self.readings + self.duplicates + self.conflicts + sum(self.malformed_by_reason.values())


@dataclass(frozen=True)
class Telemetry:
    records: list[tuple[str, bytes]]     # (partition key = sending device's id, data), in send order
    injected: Injected


def generate_telemetry(devices: int, readings_per_device: int, *, seed: int = 7,
                       duplicate_rate: float = 0.05, malformed_rate: float = 0.02,
                       conflict_rate: float = 0.02, rules: Sequence[Rule] = ()) -> Telemetry:
    """`conflict_rate`: re-sends of a reading's device and ts with another humidity."""
    rng = random.Random(seed)
    conflict_rng = random.Random(f"{seed}:conflicts")   # its own stream: the other draws stay as they were
    regular: list[tuple[str, bytes]] = []
    held_back: list[tuple[str, bytes]] = []   # late readings, sent after all regular ones
    replays: list[tuple[str, bytes]] = []     # duplicates re-sent at the end (a reconnect)
    duplicates, conflicts, late, alerts = 0, 0, 0, 0
    malformed: Counter[str] = Counter()
    names = [f"sensor-{n:04d}" for n in range(devices)]
    # Whose name a device sends in, when it does: the next device's (a lone device's: the
    # name a second device would get).
    others = {name: f"sensor-{(n + 1) % max(devices, 2):04d}" for n, name in enumerate(names)}
    offsets = {name: rng.randrange(60_000) for name in names}   # devices do not report in lockstep
    for minute in range(readings_per_device):
        for name in names:
            document = _reading(rng, name, START_MS + minute * 60_000 + offsets[name])
            alerts += breaches(document, rules)
            record = (name, _json(document))
            if rng.random() < LATE_RATE and minute < readings_per_device - 1:
                held_back.append(record)
                late += 1
            else:
                regular.append(record)
            if rng.random() < duplicate_rate:
                (regular if rng.random() < 0.5 else replays).append(record)
                duplicates += 1
            if conflict_rng.random() < conflict_rate:   # sent last, after the reading itself is stored
                # Humidity only: the alert rules (temperature, battery) judge both versions alike.
                humidity = document["humidity"] + (0.5 if document["humidity"] < 99 else -0.5)
                replays.append((name, _json(document | {"humidity": humidity})))
                conflicts += 1
            if rng.random() < malformed_rate:
                reason = rng.choice(sorted(MALFORMED))
                regular.append((name, MALFORMED[reason](document, others[name])))
                malformed[reason] += 1
    injected = Injected(devices * readings_per_device, duplicates, conflicts, dict(sorted(malformed.items())),
                        late, alerts, devices)
    return Telemetry(regular + held_back + replays, injected)


def breaches(document: dict, rules: Sequence[Rule]) -> int:
    """How many rules a reading breaches (one alert each)."""
    return sum(1 for metric, op, threshold in rules
               if metric in document and OPERATORS[op](document[metric], threshold))


def _reading(rng: random.Random, device: str, epoch_ms: int) -> dict:
    """One reading, its ts as ISO-8601 with a zone or as epoch ms; some hot, some low on battery."""
    hot, low = rng.random() < HOT_RATE, rng.random() < LOW_BATTERY_RATE
    document: dict[str, Any] = {
        "device_id": device, "ts": _ts(rng, epoch_ms),
        "temperature": round(rng.uniform(81, 99) if hot else rng.uniform(15, 35), 2),
        "humidity": round(rng.uniform(20, 80), 1)}
    if low:
        document["battery"] = rng.randint(1, 9)
    elif rng.random() < 0.8:   # some devices have no battery gauge
        document["battery"] = rng.randint(20, 100)
    return document


def _ts(rng: random.Random, epoch_ms: int) -> str | int:
    if rng.random() < 0.5:
        return epoch_ms
    zone = timezone(timedelta(hours=rng.choice([0, 2, -5])))
    return datetime.fromtimestamp(epoch_ms / 1000, zone).isoformat(timespec="milliseconds")


# --- the report ----------------------------------------------------------------------

class ReportMismatch(AssertionError):
    """The run's counts do not add up: a record went missing or was counted twice."""


@dataclass(frozen=True)
class IotRunReport:
    sent: int
    written: int
    duplicates_skipped: int
    conflicts: int                  # same device and ts as a stored reading, other values: quarantined
    quarantined_by_reason: dict[str, int]
    alerts_published: int
    failed: int
    items_in_table: int
    latest_state_items: int
    stale_latest_states: int        # latest-state items not matching the newest stored reading
    writer_quarantined: int         # what the writer says it quarantined (cross-check)
    writer_conflicts: int           # what the writer says conflicted (cross-check)
    writer_alerts: int              # what the writer says it published (cross-check)
    invocations: int
    redeliveries: int
    injected: Injected | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ReportMismatch("IotTelemetry run does not add up: " + "; ".join(problems))

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    def problems(self) -> list[str]:
        found = []
        accounted = self.written + self.duplicates_skipped + self.conflicts + self.quarantined + self.failed
        if self.sent != accounted:
            found.append(f"sent {self.sent} != written {self.written} + duplicates {self.duplicates_skipped}"
                         f" + conflicts {self.conflicts} + quarantined {self.quarantined}"
                         f" + failed {self.failed} = {accounted}")
        if self.items_in_table != self.written + self.latest_state_items:
            found.append(f"items in table {self.items_in_table} != written {self.written}"
                         f" + latest-state items {self.latest_state_items}")
        if self.writer_quarantined != self.quarantined:
            found.append(f"writer quarantined {self.writer_quarantined}"
                         f" but the queue holds {self.quarantined}")
        if self.writer_conflicts != self.conflicts:
            found.append(f"writer counted {self.writer_conflicts} conflicts"
                         f" but the queue holds {self.conflicts}")
        if self.writer_alerts != self.alerts_published:
            found.append(f"writer published {self.writer_alerts} alerts"
                         f" but the subscription received {self.alerts_published}")
        if self.stale_latest_states:
            found.append(f"{self.stale_latest_states} latest-state items behind the newest reading")
        negative = [name for name in ("written", "duplicates_skipped", "failed") if getattr(self, name) < 0]
        if negative:
            found.append(f"negative counts: {', '.join(negative)}")
        return found

    def rows(self) -> list[tuple[str, str]]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.quarantined_by_reason.items())
        return [
            ("records sent to Kinesis", str(self.sent)),
            ("readings written", str(self.written)),
            ("duplicates skipped", str(self.duplicates_skipped)),
            ("conflicts (other values, quarantined)", str(self.conflicts)),
            ("quarantined", f"{self.quarantined}" + (f" ({reasons})" if reasons else "")),
            ("failed (to the on-failure destination)", str(self.failed)),
            ("alerts published", str(self.alerts_published)),
            ("items in table", f"{self.items_in_table} ({self.written} readings"
                               f" + {self.latest_state_items} latest states)"),
            ("writer invocations", f"{self.invocations} ({self.redeliveries} redeliveries)"),
        ]

    def summary_lines(self) -> list[str]:
        width = max(len(label) for label, _ in self.rows())
        return [f"{label:<{width}}  {value}" for label, value in self.rows()]


# --- the run -------------------------------------------------------------------------

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
            sent = aws.put_all(telemetry.records)
            mapping = EventSourceMapping(aws)
            for shard_id, records in aws.batches(batch_size):
                mapping.deliver(writer.handler, shard_id, records)
            items = aws.scan_table()
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


# The writer's logs stay quiet; its metrics are read back from what it prints.
WRITER_RUNTIME = {**FAKE_AWS, "POWERTOOLS_LOG_LEVEL": "WARNING",
                  "POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_DEV": "false"}


@dataclass
class _Resources:
    """The pattern's AWS resources inside moto, and the calls the driver makes on them."""

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

    def put_all(self, records: list[tuple[str, bytes]], attempts: int = 5) -> int:
        """PutRecords in order, 500 at a time, retrying the entries Kinesis rejected."""
        kinesis, sent = self.session.client("kinesis"), 0
        for start in range(0, len(records), PUT_RECORDS_LIMIT):
            pending = records[start:start + PUT_RECORDS_LIMIT]
            for _ in range(attempts):
                response = kinesis.put_records(StreamName=STREAM, Records=[
                    {"PartitionKey": key, "Data": data} for key, data in pending])
                rejected = [record for record, result in zip(pending, response["Records"], strict=True)
                            if "ErrorCode" in result]
                sent += len(pending) - len(rejected)
                pending = rejected
                if not pending:
                    break
            if pending:
                raise RuntimeError(f"{len(pending)} records were still rejected by PutRecords")
        return sent

    def batches(self, batch_size: int) -> Iterator[tuple[str, list[dict]]]:
        """Each shard read from TRIM_HORIZON in batches, as the event source mapping polls."""
        kinesis = self.session.client("kinesis")
        for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
            iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=batch_size)
                if not page["Records"]:
                    break
                yield shard["ShardId"], page["Records"]
                iterator = page.get("NextShardIterator")

    def kinesis_event(self, shard_id: str, records: list[dict]) -> dict:
        """The event Lambda receives for `records` (GetRecords entries) of one shard."""
        return {"Records": [{
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                        "sequenceNumber": r["SequenceNumber"],
                        "data": base64.b64encode(r["Data"]).decode(),
                        "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": f"{shard_id}:{r['SequenceNumber']}", "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::123456789012:role/{STREAM}-writer",
            "awsRegion": REGION, "eventSourceARN": self.stream_arn,
        } for r in records]}

    def drain(self, queue_url: str) -> list[dict]:
        """Every message waiting in a queue, parsed, and deleted."""
        sqs, messages = self.session.client("sqs"), []
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            messages += [json.loads(m["Body"]) for m in batch]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return messages

    def scan_table(self) -> list[dict]:
        paginator = self.session.client("dynamodb").get_paginator("scan")
        return [item for page in paginator.paginate(TableName=self.table) for item in page["Items"]]


class EventSourceMapping:
    """Plays the event source mapping for one batch at a time and settles each record once.

    With ReportBatchItemFailures, Lambda delivers a batch again from its lowest failed
    sequence number, so records after it that had succeeded come back too ("replays").
    The writer counts a replay again (as a duplicate, or quarantined again); the
    mapping takes those out so that every record is counted by its first successful outcome.
    `aws` needs `kinesis_event`, `drain` and `quarantine_url` (see _Resources).
    """

    def __init__(self, aws: Any) -> None:
        self.aws = aws
        self.written = self.duplicates = self.writer_quarantined = self.writer_conflicts = self.writer_alerts = 0
        self.quarantined: dict[tuple[str, str], str] = {}   # (shard, sequence) -> reason, from the queue
        self.failed: set[tuple[str, str]] = set()
        self.invocations = self.redeliveries = 0

    def deliver(self, handler: Callable, shard_id: str, records: list[dict]) -> None:
        settled: set[str] = set()
        pending = records
        for attempt in range(MAX_REDELIVERIES + 1):
            failures, metrics = self._invoke(handler, shard_id, pending)
            replays = [r["SequenceNumber"] for r in pending
                       if r["SequenceNumber"] in settled and r["SequenceNumber"] not in failures]
            quarantined_before = {seq for seq in replays if (shard_id, seq) in self.quarantined}
            conflicts_before = {seq for seq in quarantined_before
                                if self.quarantined[(shard_id, seq)] == CONFLICT_REASON}
            for message in self.aws.drain(self.aws.quarantine_url):
                self.quarantined[(message["shard_id"], message["sequence_number"])] = message["reason"]
            self.written += metrics.get("ReadingsWritten", 0)
            self.duplicates += metrics.get("DuplicatesSkipped", 0) - (len(replays) - len(quarantined_before))
            self.writer_quarantined += (metrics.get("RecordsQuarantined", 0)
                                        - (len(quarantined_before) - len(conflicts_before)))
            self.writer_conflicts += metrics.get("ReadingsConflicting", 0) - len(conflicts_before)
            self.writer_alerts += metrics.get("AlertsPublished", 0)
            settled |= {r["SequenceNumber"] for r in pending} - failures
            if not failures:
                return
            if attempt < MAX_REDELIVERIES:
                self.redeliveries += 1
                first = next(i for i, r in enumerate(pending) if r["SequenceNumber"] in failures)
                pending = pending[first:]
        self.failed |= {(shard_id, r["SequenceNumber"]) for r in records if r["SequenceNumber"] not in settled}

    def _invoke(self, handler: Callable, shard_id: str, records: list[dict]) -> tuple[set[str], dict[str, int]]:
        self.invocations += 1
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):   # the writer's metrics, as CloudWatch would get them
            response = handler(self.aws.kinesis_event(shard_id, records), LocalContext("iot-writer"))
        failures = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        unknown = failures - {r["SequenceNumber"] for r in records}
        if unknown:
            raise ReportMismatch(f"writer reported failures for records not in the batch: {sorted(unknown)}")
        return failures, emf_metric_totals(printed.getvalue())


def emf_metric_totals(printed: str) -> dict[str, int]:
    """Sum the metrics in CloudWatch Embedded Metric Format lines (Powertools' output)."""
    totals: Counter[str] = Counter()
    for line in printed.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"].get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = document.get(metric["Name"], 0)
                totals[metric["Name"]] += int(sum(value) if isinstance(value, list) else value)
    return dict(totals)
