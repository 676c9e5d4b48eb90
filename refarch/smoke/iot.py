"""IotTelemetry smoke: readings in through the entry point, out in the table, the quarantine
and the alert topic, each written by the deployed writer function.

Entry point: the device topic through IoT Core on AWS; the stream itself on LocalStack, whose
free edition accepts the IoT topic rule only as a no-op (the record is the one the rule would
put: the reading as sent, partitioned by the topic's device id). Every device id carries the
run id, so a smoke run finds exactly its own items and messages and leaves others' alone.
"""

from __future__ import annotations

import json
import operator
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from refarch.smoke.report import SmokeReport
from refarch.smoke.target import Progress, Target, poll
from refarch.smoke.temporary_queue import TopicListener

OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Sample:
    readings: list[dict]                  # valid readings (one table item each)
    malformed: list[tuple[str, bytes]]    # (device id, data the writer must quarantine)
    alerts: int                           # rule breaches among the readings

    @property
    def devices(self) -> list[str]:
        return sorted({r["device_id"] for r in self.readings} | {d for d, _ in self.malformed})


def sample(run_id: str, rules: list[dict], *, devices: int = 3, readings_per_device: int = 4,
           seed: int = 11, now_ms: int | None = None) -> Sample:
    rng = random.Random(seed)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    readings = []
    for d in range(devices):
        device = f"smoke-{run_id}-{d}"
        for n in range(readings_per_device):
            hot = n == 0 and d == 0        # one reading above the default temperature rule
            readings.append({
                "device_id": device,
                "ts": _iso_utc(now_ms - (readings_per_device - n) * 1000),
                "temperature": 91.5 if hot else round(rng.uniform(18, 30), 2),
                "humidity": round(rng.uniform(30, 60), 1), "battery": rng.randint(40, 100)})
    first = f"smoke-{run_id}-0"
    malformed = [(first, b'{"device_id": "' + first.encode() + b'", "ts": '),            # cut off
                 (first, json.dumps({"device_id": first, "temperature": 20.0}).encode())]  # no ts
    alerts = sum(1 for r in readings for rule in rules
                 if rule["metric"] in r and OPERATORS[rule["op"]](r[rule["metric"]], rule["value"]))
    return Sample(readings, malformed, alerts)


def _iso_utc(epoch_ms: int) -> str:
    """The writer's canonical form of a timestamp (UTC, milliseconds, Z), so items match by key."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def smoke_iot(target: Target, stack_name: str, *, timeout: float, progress: Progress) -> SmokeReport:
    report = SmokeReport("IotTelemetry", target.name)
    outputs = target.outputs(stack_name)
    run_id = uuid.uuid4().hex[:8]
    data = sample(run_id, json.loads(outputs["AlertRules"]))
    with TopicListener(target, outputs["AlertTopicArn"], name=f"refarch-smoke-{run_id}") as alerts:
        _send(target, outputs, data, report)
        _check_table(target, outputs["TableName"], data, report, timeout=timeout, progress=progress)
        _check_quarantine(target, outputs["QuarantineQueueUrl"], data, report, timeout=timeout,
                          progress=progress)
        received = poll(lambda: alerts.collect(lambda m: m.get("device_id") in data.devices, data.alerts),
                        timeout=timeout, interval=1, progress=progress, what="alerts on the topic")
        count = len(alerts.messages)
        report.expect("alerts on the topic", bool(received) or count == data.alerts == 0,
                      f"{count} of {data.alerts} threshold alert(s) published by the writer",
                      f"{count} of {data.alerts} threshold alert(s) after {timeout:.0f} s")
    return report


def _send(target: Target, outputs: dict, data: Sample, report: SmokeReport) -> None:
    records = [(r["device_id"], json.dumps(r).encode()) for r in data.readings] + data.malformed
    if target.is_localstack:
        response = target.client("kinesis").put_records(
            StreamName=outputs["StreamName"],
            Records=[{"PartitionKey": device, "Data": payload} for device, payload in records])
        failed = response["FailedRecordCount"]
        report.expect("readings sent", failed == 0,
                      f"{len(records)} records put on stream {outputs['StreamName']} (as the IoT rule "
                      "would: LocalStack accepts the topic rule only as a no-op)",
                      f"{failed} of {len(records)} records rejected by PutRecords")
        return
    endpoint = target.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    iot_data = target.session.client("iot-data", region_name=target.region, endpoint_url=f"https://{endpoint}")
    topic = outputs["TopicFilter"]
    for device, payload in records:
        iot_data.publish(topic=topic.replace("+", device), qos=1, payload=payload)
    report.arrived("readings sent", f"{len(records)} messages published on {topic}")


def _check_table(target: Target, table: str, data: Sample, report: SmokeReport, *, timeout: float,
                 progress: Progress) -> None:
    dynamodb = target.client("dynamodb")
    expected = {(r["device_id"], r["ts"]) for r in data.readings}

    def stored() -> set[tuple[str, str]]:
        found = set()
        for device in data.devices:
            items = dynamodb.query(TableName=table, KeyConditionExpression="device_id = :d",
                                   ExpressionAttributeValues={":d": {"S": device}})["Items"]
            found |= {(i["device_id"]["S"], i["ts"]["S"]) for i in items}
        return found

    found = poll(lambda: expected <= (seen := stored()) and seen, timeout=timeout, interval=1,
                 progress=progress, what="readings in the table") or stored()
    readings = found & expected
    latest = {device for device, ts in found if ts == "LATEST"}
    report.expect("readings in the table", readings == expected and latest == set(data.devices),
                  f"{len(readings)} readings and {len(latest)} latest-state items in {table}",
                  f"{len(readings)} of {len(expected)} readings and {len(latest)} of "
                  f"{len(data.devices)} latest-state items after {timeout:.0f} s")


def _check_quarantine(target: Target, queue_url: str, data: Sample, report: SmokeReport, *,
                      timeout: float, progress: Progress) -> None:
    sqs = target.client("sqs")
    reasons: list[str] = []

    def drain_ours() -> bool:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       VisibilityTimeout=30).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            if body.get("partition_key") in data.devices:
                reasons.append(body["reason"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:  # someone else's quarantined reading: put it back at once
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
        return len(reasons) >= len(data.malformed)

    poll(drain_ours, timeout=timeout, interval=0, progress=progress, what="quarantined readings")
    report.expect("malformed readings quarantined", len(reasons) == len(data.malformed),
                  f"{len(reasons)} in the quarantine queue with their reasons: {', '.join(sorted(reasons))}",
                  f"{len(reasons)} of {len(data.malformed)} after {timeout:.0f} s")
