"""`refarch replay STACK`: re-deliver the stream records whose batches exhausted their retries.

When a Kinesis batch keeps failing, the event source mapping gives up after its retries (or
the maximum record age) and sends a record of the batch to the consumer's on-failure queue:
which shard, which sequence range, how many records and why - not the records themselves.
They stay in the stream only until its retention passes. Replay reads each message, fetches
its records from the shard while the stream still holds them, and invokes the consumer again
with the event shape the mapping uses. Per message it reports:

  replayed       records the consumer now handled (no batch item failure)
  still failing  the first record the consumer reported as failed (or all, if it raised)
                 and every record after it in the shard: Kinesis order is kept
  expired        records the stream no longer holds because they are older than its retention

A message is deleted only when all its records were replayed; with `delete_expired`, also
when the rest of them expired (nothing is left to recover). Any other message is made
visible again for the next replay. Re-delivering a record that had succeeded is safe: the
consumers are idempotent (the IoT writer counts it as a duplicate).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# How long the messages being replayed stay invisible to a second replay running meanwhile.
VISIBILITY_SECONDS = 900
INVOKE_MAX_RECORDS = 100                 # records per re-delivery (the writer's default batch)
INVOKE_MAX_BYTES = 5 * 1024 * 1024       # below Lambda's 6 MB synchronous payload limit
MAX_GET_RECORDS_CALLS = 1000             # per message: a sparse shard can return empty pages

REPLAYED, STILL_FAILING, EXPIRED = "replayed", "still failing", "expired"

Deliver = Callable[[dict], dict]         # a Kinesis event -> the consumer's response


class NotAFailedBatch(ValueError):
    """A message on the failure queue that is not an event source mapping's record of a batch."""


@dataclass(frozen=True)
class FailedBatch:
    """What the event source mapping sent to the on-failure queue for one batch."""
    shard_id: str
    start_sequence: str
    end_sequence: str
    batch_size: int
    stream_arn: str
    first_arrival: datetime
    reason: str                          # the condition, e.g. RetryAttemptsExhausted (+ function error)

    @classmethod
    def from_message(cls, body: str) -> FailedBatch:
        try:
            document = json.loads(body)
            info = document["KinesisBatchInfo"]
            context = document.get("requestContext", {})
            error = document.get("responseContext", {}).get("functionError")
            reason = context.get("condition", "unknown") + (f" ({error})" if error else "")
            return cls(info["shardId"], str(info["startSequenceNumber"]), str(info["endSequenceNumber"]),
                       int(info["batchSize"]), info["streamArn"],
                       _instant(info["approximateArrivalOfFirstRecord"]), reason)
        except (ValueError, KeyError, TypeError) as error:
            raise NotAFailedBatch(f"not a Kinesis failed-batch record ({type(error).__name__}: {error})") from None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class MessageOutcome:
    batch: FailedBatch | None            # None: the message could not be read (kept)
    replayed: int = 0
    still_failing: int = 0
    expired: int = 0
    deleted: bool = False
    detail: str = ""

    @property
    def status(self) -> str:
        if self.batch is None:
            return "unreadable"
        if self.still_failing:
            return STILL_FAILING
        return EXPIRED if self.expired else REPLAYED


@dataclass(frozen=True)
class ReplayReport:
    stream: str
    retention_hours: int
    messages: tuple[MessageOutcome, ...] = field(default_factory=tuple)

    @property
    def replayed(self) -> int:
        return sum(m.replayed for m in self.messages)

    @property
    def still_failing(self) -> int:
        return sum(m.still_failing for m in self.messages)

    @property
    def expired(self) -> int:
        return sum(m.expired for m in self.messages)

    @property
    def deleted(self) -> int:
        return sum(1 for m in self.messages if m.deleted)

    @property
    def succeeded(self) -> bool:
        """Nothing is left that a later replay could still recover."""
        return all(m.batch is not None and not m.still_failing for m in self.messages)


# --- reading the stream ---------------------------------------------------------------

def fetch_batch(kinesis: Any, stream_name: str, batch: FailedBatch) -> list[dict]:
    """The records of `batch` the shard still holds (GetRecords entries), in order."""
    start, end = int(batch.start_sequence), int(batch.end_sequence)
    try:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=batch.shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=batch.start_sequence)["ShardIterator"]
    except kinesis.exceptions.ResourceNotFoundException:
        return []        # the shard itself is gone: closed by a reshard and past the retention
    except kinesis.exceptions.InvalidArgumentException:
        return []        # the sequence number is no longer in the shard
    found: list[dict] = []
    for _ in range(MAX_GET_RECORDS_CALLS):
        if not iterator:
            break        # a closed shard, read to its end
        page = kinesis.get_records(ShardIterator=iterator, Limit=min(10_000, max(batch.batch_size, 1)))
        for record in page["Records"]:
            sequence = int(record["SequenceNumber"])
            if sequence > end:
                return found
            if sequence >= start:
                found.append(record)
        if len(found) >= batch.batch_size:
            return found
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            break        # caught up with the shard's tip
        iterator = page.get("NextShardIterator")
    return found


def kinesis_event(records: Sequence[dict], *, shard_id: str, stream_arn: str, region: str,
                  invoke_identity_arn: str = "") -> dict:
    """The event the event source mapping delivers for `records` (GetRecords entries of one shard)."""
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"{shard_id}:{r['SequenceNumber']}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": invoke_identity_arn, "awsRegion": region, "eventSourceARN": stream_arn,
    } for r in records]}


def _chunks(records: Sequence[dict]) -> Iterator[list[dict]]:
    """Records in order, grouped so each re-delivery fits Lambda's limits."""
    chunk: list[dict] = []
    size = 0
    for record in records:
        weight = len(record["Data"]) * 4 // 3 + 512          # base64 plus the event's envelope
        if chunk and (len(chunk) == INVOKE_MAX_RECORDS or size + weight > INVOKE_MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += weight
    if chunk:
        yield chunk


def first_failure(response: Mapping[str, Any], records: Sequence[dict]) -> int | None:
    """The position of the first record the consumer did not handle, or None if it handled all.
    A response that is not a partial-batch response (the function raised) fails them all."""
    if not isinstance(response, Mapping) or "FunctionError" in response:
        return 0
    failures = response.get("batchItemFailures")
    if not isinstance(failures, list):
        return 0
    failed = {str(item.get("itemIdentifier")) for item in failures if isinstance(item, Mapping)}
    if not failed:
        return None
    positions = [i for i, r in enumerate(records) if r["SequenceNumber"] in failed]
    return positions[0] if positions else 0       # an identifier not in the batch: trust nothing


# --- the replay -----------------------------------------------------------------------

def replay_batch(batch: FailedBatch, *, kinesis: Any, stream_name: str, retention: timedelta,
                 deliver: Deliver, region: str, now: datetime, invoke_identity_arn: str = "",
                 delete_expired: bool = False) -> MessageOutcome:
    records = fetch_batch(kinesis, stream_name, batch)
    missing = max(batch.batch_size - len(records), 0)
    beyond_retention = batch.first_arrival < now - retention
    replayed, failing = 0, 0
    for chunk in _chunks(records):
        response = deliver(kinesis_event(chunk, shard_id=batch.shard_id, stream_arn=batch.stream_arn,
                                         region=region, invoke_identity_arn=invoke_identity_arn))
        position = first_failure(response, chunk)
        if position is None:
            replayed += len(chunk)
            continue
        replayed += position
        failing = len(records) - replayed          # the failed record and all after it
        break
    if missing and not beyond_retention:
        # Not in the shard, yet not old enough to have expired: keep the message and say so.
        return MessageOutcome(batch, replayed, failing + missing, 0, False,
                              f"{missing} record(s) not found in {stream_name} although younger than its retention")
    expired = missing
    done = failing == 0 and (expired == 0 or delete_expired)
    detail = f"first record arrived {batch.first_arrival:%Y-%m-%d %H:%M} UTC"
    return MessageOutcome(batch, replayed, failing, expired, done, detail)


def receive_all(sqs: Any, queue_url: str, *, max_messages: int | None = None, wait_seconds: int = 2) -> list[dict]:
    """Every message waiting on the queue (up to `max_messages`), hidden while we replay them.
    A long poll (`wait_seconds`) so that an empty answer means an empty queue."""
    messages: list[dict] = []
    while max_messages is None or len(messages) < max_messages:
        want = 10 if max_messages is None else min(10, max_messages - len(messages))
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=want,
                                       VisibilityTimeout=VISIBILITY_SECONDS,
                                       WaitTimeSeconds=wait_seconds).get("Messages", [])
        if not received:
            break
        messages += received
    return messages


def replay_failed_batches(*, sqs: Any, kinesis: Any, queue_url: str, stream_name: str, deliver: Deliver,
                          region: str, now: datetime | None = None, invoke_identity_arn: str = "",
                          delete_expired: bool = False, max_messages: int | None = None,
                          wait_seconds: int = 2) -> ReplayReport:
    summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    retention_hours = int(summary["RetentionPeriodHours"])
    now = now or datetime.now(UTC)
    outcomes = []
    for message in receive_all(sqs, queue_url, max_messages=max_messages, wait_seconds=wait_seconds):
        try:
            batch = FailedBatch.from_message(message["Body"])
        except NotAFailedBatch as error:
            outcome = MessageOutcome(None, detail=str(error))
        else:
            outcome = replay_batch(batch, kinesis=kinesis, stream_name=stream_name,
                                   retention=timedelta(hours=retention_hours), deliver=deliver, region=region,
                                   now=now, invoke_identity_arn=invoke_identity_arn,
                                   delete_expired=delete_expired)
        if outcome.deleted:          # only now: every record of the batch is handled
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:                        # back on the queue at once, for the next replay
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
        outcomes.append(outcome)
    return ReplayReport(stream_name, retention_hours, tuple(outcomes))


def lambda_deliverer(lambda_client: Any, function_name: str) -> Deliver:
    """Invoke the consumer synchronously; a function error comes back as {"FunctionError": ...}."""
    def deliver(event: dict) -> dict:
        response = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                        Payload=json.dumps(event).encode())
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            return {"FunctionError": response["FunctionError"], "Payload": payload.decode(errors="replace")[:500]}
        try:
            return json.loads(payload or b"null") or {}
        except ValueError:
            return {"FunctionError": "unreadable response"}
    return deliver


# --- what the stack publishes ---------------------------------------------------------

# The outputs a stack with a stream consumer publishes (StreamConsumer.outputs()).
QUEUE_OUTPUT, FUNCTION_OUTPUT, STREAM_OUTPUT = "FailedBatchesQueueUrl", "ConsumerFunctionName", "ConsumedStreamName"


def replay_outputs(outputs: Mapping[str, str], stack: str) -> tuple[str, str, str]:
    """(queue URL, function name, stream name) from a deployed stack's outputs."""
    missing = [name for name in (QUEUE_OUTPUT, FUNCTION_OUTPUT, STREAM_OUTPUT) if not outputs.get(name)]
    if missing:
        raise ValueError(f"{stack} has no stream consumer to replay: its outputs lack {', '.join(missing)}")
    return outputs[QUEUE_OUTPUT], outputs[FUNCTION_OUTPUT], outputs[STREAM_OUTPUT]


def replay_deployed(stack: str, target: Any, *, stage: str, delete_expired: bool = False) -> ReplayReport:
    """Replay the failed batches of a deployed stack (`target`: a refarch.smoke.target.Target)."""
    from refarch.patterns import stack_name

    queue_url, function_name, stream_name = replay_outputs(target.outputs(stack_name(stage, stack)), stack)
    lambda_client = target.client("lambda")
    role = lambda_client.get_function_configuration(FunctionName=function_name).get("Role", "")
    return replay_failed_batches(sqs=target.client("sqs"), kinesis=target.client("kinesis"),
                                 queue_url=queue_url, stream_name=stream_name,
                                 deliver=lambda_deliverer(lambda_client, function_name), region=target.region,
                                 invoke_identity_arn=role, delete_expired=delete_expired)


def report_rows(report: ReplayReport) -> list[tuple[str, ...]]:
    """(shard, sequence range, reason, replayed, still failing, expired, message) per message."""
    rows = []
    for outcome in report.messages:
        batch = outcome.batch
        if batch is None:
            rows.append(("?", "?", outcome.detail, "0", "0", "0", "kept"))
            continue
        rows.append((batch.shard_id, f"{batch.start_sequence}..{batch.end_sequence}", batch.reason,
                     str(outcome.replayed), str(outcome.still_failing), str(outcome.expired),
                     "deleted" if outcome.deleted else "kept"))
    return rows
