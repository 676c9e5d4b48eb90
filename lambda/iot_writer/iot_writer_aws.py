"""boto3 adapters for the writer's core: DynamoDB readings, SQS quarantine, SNS alerts.

An adapter never raises for an AWS error: it logs it and reports what it could not do,
and the core turns that into batch item failures. Permanent errors are not told apart
from transient ones here: the event source mapping's bounded retries, batch bisection
and on-failure destination are what end a batch that can never succeed.

Table layout (one table):
  reading       device_id (S, HASH), ts (S, RANGE, UTC ISO-8601 ms, e.g.
                2024-05-01T12:00:00.000Z), temperature, humidity, battery? (N), expires_at (N)
  latest state  device_id, ts = "LATEST" (sorts after every timestamp), reading_ts (S),
                temperature, humidity, battery? (N); no expiry
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from iot_writer_batch import Key, Lookup, QuarantineMessage
from iot_writer_schema import METRIC_NAMES, Alert, Reading

logger = Logger(service="iot-writer", child=True)

LATEST = "LATEST"
TTL_ATTRIBUTE = "expires_at"
BATCH_WRITE_LIMIT = 25    # items per BatchWriteItem
BATCH_GET_LIMIT = 100     # keys per BatchGetItem
SEND_BATCH_LIMIT = 10     # entries per SQS SendMessageBatch and SNS PublishBatch
SEND_BATCH_BYTES = 256 * 1024
AWS_ERRORS = (ClientError, BotoCoreError)


def reading_item(reading: Reading, ttl_days: int) -> dict[str, dict[str, str]]:
    """The DynamoDB item for a reading: built from the payload alone, so a redelivered
    record always produces the identical item (the expiry counts from the reading's ts)."""
    item = {"device_id": {"S": reading.device_id}, "ts": {"S": reading.ts},
            TTL_ATTRIBUTE: {"N": str(reading.epoch_ms // 1000 + ttl_days * 86_400)}}
    item.update({name: {"N": repr(value)} for name, value in reading.metrics().items()})
    return item


def latest_item(reading: Reading) -> dict[str, dict[str, str]]:
    """The device's latest-state item: its newest reading, under ts = LATEST (no expiry)."""
    item = {"device_id": {"S": reading.device_id}, "ts": {"S": LATEST}, "reading_ts": {"S": reading.ts}}
    item.update({name: {"N": repr(value)} for name, value in reading.metrics().items()})
    return item


def stored_metrics(item: dict[str, dict[str, str]]) -> dict[str, float]:
    """The metrics of a stored reading item, in schema order, as Reading.metrics() gives them."""
    return {name: float(item[name]["N"]) for name in METRIC_NAMES if name in item}


# The lookup reads the key, the latest state's reading_ts and the metrics (#m0, #m1, ...).
_PROJECTED_NAMES = {"#d": "device_id", "#t": "ts", "#r": "reading_ts",
                    **{f"#m{index}": name for index, name in enumerate(METRIC_NAMES)}}
_PROJECTION = ", ".join(_PROJECTED_NAMES)


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt))."""
    return rand() * min(cap, base * 2 ** attempt)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class DynamoReadingStore:
    def __init__(self, client: Any, table_name: str, *, ttl_days: int, max_attempts: int = 5,
                 base_delay: float = 0.05, max_delay: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random) -> None:
        self.client, self.table_name, self.ttl_days = client, table_name, ttl_days
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self.sleep, self.rand = sleep, rand

    def look_up(self, keys: Sequence[Key]) -> Lookup:
        """Which reading keys exist (with the metrics stored, to tell a duplicate from a
        conflict), and the ts each key's device's latest-state item holds, in one pass of
        BatchGetItem (100 keys a request, unprocessed keys retried).

        A key is unchecked only if DynamoDB never answered for it: the keys still
        unprocessed after the last attempt, or still outstanding when a call failed. Keys
        answered earlier (found or absent) keep their answer, so one device's throttled
        keys do not fail the other devices' readings."""
        wanted = list(keys) + [(device, LATEST) for device in dict.fromkeys(device for device, _ in keys)]
        found: dict[Key, dict] = {}
        unanswered: set[Key] = set()
        for chunk in chunks(wanted, BATCH_GET_LIMIT):
            outstanding = [_key(device_id, ts) for device_id, ts in chunk]
            try:
                for attempt in range(self.max_attempts):
                    response = self.client.batch_get_item(RequestItems={self.table_name: {
                        "Keys": outstanding, "ProjectionExpression": _PROJECTION,
                        "ExpressionAttributeNames": _PROJECTED_NAMES}})
                    for item in response.get("Responses", {}).get(self.table_name, []):
                        found[(item["device_id"]["S"], item["ts"]["S"])] = item
                    outstanding = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                    if not outstanding:
                        break
                    self._back_off(attempt)
            except AWS_ERRORS as error:
                _log_error("BatchGetItem", error, len(outstanding))
            unanswered |= {(k["device_id"]["S"], k["ts"]["S"]) for k in outstanding}
        # Without its device's latest state a reading cannot be processed either.
        blind_devices = {device for device, ts in unanswered if ts == LATEST}
        return Lookup(existing={key: stored_metrics(found[key]) for key in keys if key in found},
                      latest={device: item["reading_ts"]["S"] for (device, ts), item in found.items()
                              if ts == LATEST},
                      unchecked={key for key in keys if key in unanswered or key[0] in blind_devices})

    def put_latest(self, readings: Sequence[Reading]) -> set[str]:
        unwritten = self._batch_write([latest_item(r) for r in readings])
        return {item["device_id"]["S"] for item in unwritten}

    def put_readings(self, readings: Sequence[Reading]) -> set[Key]:
        unwritten = self._batch_write([reading_item(r, self.ttl_days) for r in readings])
        return {(item["device_id"]["S"], item["ts"]["S"]) for item in unwritten}

    def _batch_write(self, items: list[dict]) -> list[dict]:
        """BatchWriteItem in chunks of 25, unprocessed items retried with backoff; returns
        the items still not written after the last attempt."""
        unwritten: list[dict] = []
        for chunk in chunks(items, BATCH_WRITE_LIMIT):
            requests = [{"PutRequest": {"Item": item}} for item in chunk]
            try:
                for attempt in range(self.max_attempts):
                    response = self.client.batch_write_item(RequestItems={self.table_name: requests})
                    requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
                    if not requests:
                        break
                    self._back_off(attempt)
            except AWS_ERRORS as error:
                _log_error("BatchWriteItem", error, len(requests))
            unwritten += [request["PutRequest"]["Item"] for request in requests]
        return unwritten

    def _back_off(self, attempt: int) -> None:
        if attempt + 1 < self.max_attempts:   # no point sleeping after the last attempt
            self.sleep(backoff_delay(attempt, base=self.base_delay, cap=self.max_delay, rand=self.rand))


class SqsQuarantine:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client, self.queue_url = client, queue_url

    def send(self, messages: Sequence[QuarantineMessage]) -> set[str]:
        not_sent: set[str] = set()
        for group in _size_bounded(messages, lambda m: json.dumps(m.body())):
            entries = [{"Id": str(index), "MessageBody": body,
                        "MessageAttributes": {"reason": {"DataType": "String", "StringValue": message.reason}}}
                       for index, (message, body) in enumerate(group)]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                failed = [int(entry["Id"]) for entry in response.get("Failed", [])]
            except AWS_ERRORS as error:
                _log_error("SendMessageBatch", error, len(entries))
                failed = list(range(len(group)))
            not_sent |= {group[index][0].sequence_number for index in failed}
        return not_sent


class SnsAlerts:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client, self.topic_arn = client, topic_arn

    def publish(self, alerts: Sequence[Alert]) -> set[int]:
        not_published: set[int] = set()
        for start in range(0, len(alerts), SEND_BATCH_LIMIT):
            group = alerts[start:start + SEND_BATCH_LIMIT]
            entries = [{"Id": str(start + offset), "Message": json.dumps(alert.message()),
                        "Subject": f"{alert.metric} {alert.op} {alert.threshold:g} on {alert.device_id}"[:100],
                        "MessageAttributes": {
                            "metric": {"DataType": "String", "StringValue": alert.metric},
                            "device_id": {"DataType": "String", "StringValue": alert.device_id}}}
                       for offset, alert in enumerate(group)]
            try:
                response = self.client.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
                not_published |= {int(entry["Id"]) for entry in response.get("Failed", [])}
            except AWS_ERRORS as error:
                _log_error("PublishBatch", error, len(entries))
                not_published |= set(range(start, start + len(group)))
        return not_published


def _size_bounded(messages: Sequence[QuarantineMessage], render: Callable[[QuarantineMessage], str]
                  ) -> Iterator[list[tuple[QuarantineMessage, str]]]:
    """Groups of at most 10 messages and 256 KiB. IoT Core caps a payload at 128 KiB, so a
    single quarantined record (base64 + envelope) always fits in one message."""
    group: list[tuple[QuarantineMessage, str]] = []
    size = 0
    for message in messages:
        body = render(message)
        length = len(body.encode())
        if group and (len(group) == SEND_BATCH_LIMIT or size + length > SEND_BATCH_BYTES):
            yield group
            group, size = [], 0
        group.append((message, body))
        size += length
    if group:
        yield group


def _key(device_id: str, ts: str) -> dict[str, dict[str, str]]:
    return {"device_id": {"S": device_id}, "ts": {"S": ts}}


def _log_error(operation: str, error: Exception, records: int) -> None:
    code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
    logger.warning(f"{operation} failed; its records will be retried", extra={
        "operation": operation, "error_code": code, "records": records})
