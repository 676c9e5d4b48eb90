"""The writer's core: one Kinesis batch in, one outcome per record out.

`process_batch` decides; the adapters it is given (DynamoDB, SQS, SNS in Lambda; fakes
in tests) do the I/O and report what they could not do instead of raising.

Every record ends as exactly one of:
  written      a new reading, now in the table
  duplicate    its (device_id, ts) is already stored, or appears earlier in this batch,
               with the same values
  conflict     its (device_id, ts) is already stored (or earlier in this batch) with
               DIFFERENT values; see "Conflicts" below
  quarantined  malformed, or sent on another device's topic (see below); sent to the
               quarantine queue with a reason, never retried
  failed       not durably handled (a throttled write, an unpublished alert ...):
               reported as a batch item failure so Lambda delivers it again

Duplicates: Kinesis delivers at least once and devices re-send, so the key
(device_id, ts) decides. BatchWriteItem cannot be conditional, so the batch's keys are
looked up first with BatchGetItem (one extra read per 100 keys) and only unseen keys
are written. A late reading with an older ts has a different key: it is written.

Conflicts: a device that re-sends a reading for the same ts with other values (a firmware
bug, a clock that stepped back, a replay of edited data) contradicts what is stored. The
first stored reading stays (first writer wins: the table, its alerts and the latest state
never flip between versions); the contradicting record goes to the quarantine queue with
the reason `conflict:values_differ` and both versions in its detail, and is counted apart
from duplicates (metric ReadingsConflicting), so an operator can decide which is right.
Redelivery of a conflicting record is a conflict again (at-least-once, like the quarantine).

Latest state: the same lookup reads each device's latest-state item, and it is
replaced (in a BatchWriteItem) only when the batch holds a newer reading, so a late
reading never rolls it back. A conditional UpdateItem per device would do the same
without the lookup but costs one request per device per batch, about one per record
in Lambda-sized batches (see benchmarks/iot_writer.py).

Lookup-then-write is race-free because the stream's partition key is the device id:
one device's records are processed in order by one invocation at a time (also with a
parallelization factor, and across resharding). Reading items are built from the
payload alone, so even a racing rewrite would store identical content.

The partition key is the device id from the topic (the IoT rule sets `${topic(2)}` of
devices/<id>/telemetry, which the device's policy lets it publish on); the payload's
device_id is whatever the device wrote. A record whose two differ (or whose partition
key is empty: the rule never sends one) is quarantined as `schema:device_id_mismatch`,
so a device cannot write another device's readings or latest state, and every reading
that is processed is on its own device's shard, in that device's order.

The reading item is written last and acts as the commit marker: a reading's alerts and
its latest state are written before it. A redelivered reading that is found in the
table has therefore had all its effects; one that is not found is processed again
(alerts are at-least-once).

Checkpointing: Lambda restarts a Kinesis batch from the LOWEST reported sequence
number, so reporting just the failed records is enough. Records after that point that
did succeed are delivered again and end as duplicates (a malformed one is quarantined
again: the quarantine is at-least-once too). A record is reported only when its own
step failed (its lookup, alert, latest state or write): one device's throttled lookup
never fails another device's readings that come before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from iot_writer_schema import Alert, AlertRule, InvalidRecord, Reading, alerts_for, decode_reading

Key = tuple[str, str]   # (device_id, ts)

WRITTEN, DUPLICATE, CONFLICT, FAILED = "written", "duplicate", "conflict", "failed"
QUARANTINED = "quarantined:"   # + reason code
CONFLICT_REASON = "conflict:values_differ"   # the quarantine reason of a conflicting reading


@dataclass(frozen=True)
class StreamRecord:
    sequence_number: str
    partition_key: str
    data: str           # base64, as Lambda delivers it
    shard_id: str = ""

    @classmethod
    def from_event(cls, record: Mapping[str, Any]) -> StreamRecord:
        kinesis = record["kinesis"]
        shard_id = record.get("eventID", "").partition(":")[0]   # eventID = "<shard id>:<sequence number>"
        return cls(kinesis["sequenceNumber"], kinesis.get("partitionKey", ""), kinesis["data"], shard_id)


def decode_record(record: StreamRecord) -> Reading:
    """The record's reading, or InvalidRecord: its payload is malformed, or names another
    device than the topic it was published on (the partition key)."""
    reading = decode_reading(record.data)
    if reading.device_id != record.partition_key:
        raise InvalidRecord("schema:device_id_mismatch",
                            f"payload device_id {reading.device_id!r} != partition key {record.partition_key!r}")
    return reading


@dataclass(frozen=True)
class QuarantineMessage:
    sequence_number: str
    partition_key: str
    reason: str
    detail: str
    data: str           # the original base64, so the record can be repaired and replayed
    shard_id: str = ""  # with the sequence number, where the record sits in the stream

    def body(self) -> dict[str, str]:
        return {"reason": self.reason, "detail": self.detail, "shard_id": self.shard_id,
                "sequence_number": self.sequence_number, "partition_key": self.partition_key,
                "data": self.data}


@dataclass(frozen=True)
class Lookup:
    existing: dict[Key, dict[str, float]]   # reading keys already stored -> the metrics stored
    latest: dict[str, str]  # device -> ts of the reading its latest-state item holds
    unchecked: set[Key]     # the store could not say (unprocessed keys, errors)


class ReadingStore(Protocol):
    def look_up(self, keys: Sequence[Key]) -> Lookup: ...                   # keys and their devices' latest state
    def put_latest(self, readings: Sequence[Reading]) -> set[str]: ...      # devices NOT updated
    def put_readings(self, readings: Sequence[Reading]) -> set[Key]: ...    # keys NOT written


class Quarantine(Protocol):
    def send(self, messages: Sequence[QuarantineMessage]) -> set[str]: ...  # sequence numbers NOT sent


class AlertPublisher(Protocol):
    def publish(self, alerts: Sequence[Alert]) -> set[int]: ...             # indexes NOT published


@dataclass(frozen=True)
class BatchResult:
    outcomes: dict[str, str]   # sequence number -> outcome, in the batch's order
    alerts_published: int

    def _count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    @property
    def written(self) -> int:
        return self._count(WRITTEN)

    @property
    def duplicates(self) -> int:
        return self._count(DUPLICATE)

    @property
    def conflicts(self) -> int:
        return self._count(CONFLICT)

    @property
    def quarantined_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value in self.outcomes.values():
            if value.startswith(QUARANTINED):
                reason = value.removeprefix(QUARANTINED)
                counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    @property
    def failed_sequence_numbers(self) -> list[str]:
        return [seq for seq, value in self.outcomes.items() if value == FAILED]

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The partial-batch response Lambda expects with ReportBatchItemFailures."""
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.failed_sequence_numbers]}


def process_batch(records: Sequence[StreamRecord], store: ReadingStore, quarantine: Quarantine,
                  alerts: AlertPublisher, *, rules: tuple[AlertRule, ...] = ()) -> BatchResult:
    by_sequence = {record.sequence_number: record for record in records}
    outcome: dict[str, str] = {}
    readings: dict[str, Reading] = {}
    to_quarantine: list[QuarantineMessage] = []
    for record in records:
        try:
            readings[record.sequence_number] = decode_record(record)
        except InvalidRecord as bad:
            to_quarantine.append(QuarantineMessage(record.sequence_number, record.partition_key,
                                                   bad.reason, bad.detail, record.data, record.shard_id))

    # The first copy of a key in the batch is the original; later copies follow its fate.
    originals: dict[Key, str] = {}
    copies: dict[str, Key] = {}
    for seq, reading in readings.items():
        if reading.key in originals:
            copies[seq] = reading.key
        else:
            originals[reading.key] = seq

    def conflict(seq: str, kept: Mapping[str, float]) -> None:
        record = by_sequence[seq]
        detail = f"stored {_values(kept)}; received {_values(readings[seq].metrics())}"
        to_quarantine.append(QuarantineMessage(seq, record.partition_key, CONFLICT_REASON, detail,
                                               record.data, record.shard_id))

    pending: dict[Key, str] = {}   # new readings not yet failed: key -> sequence number
    lookup = Lookup({}, {}, set())
    if originals:
        lookup = store.look_up(list(originals))
        for key, seq in originals.items():
            if key in lookup.unchecked:
                outcome[seq] = FAILED
            elif key in lookup.existing:
                if readings[seq].metrics() == lookup.existing[key]:
                    outcome[seq] = DUPLICATE
                else:
                    conflict(seq, lookup.existing[key])
            else:
                pending[key] = seq

    def fail(keys: set[Key]) -> None:
        for key in keys:
            outcome[pending.pop(key)] = FAILED

    published = _publish_alerts(pending, readings, alerts, rules, fail)
    _update_latest_states(pending, readings, lookup, store, fail)

    if pending:
        unwritten = store.put_readings([readings[seq] for seq in pending.values()])
        for key, seq in pending.items():
            outcome[seq] = FAILED if key in unwritten else WRITTEN

    for seq, key in copies.items():
        original = originals[key]
        if outcome.get(original) == FAILED:
            outcome[seq] = FAILED     # redelivered with its original, decided then
            continue
        # What the table holds for the key: the stored reading, or the original just written.
        kept = lookup.existing[key] if key in lookup.existing else readings[original].metrics()
        if readings[seq].metrics() == kept:
            outcome[seq] = DUPLICATE
        else:
            conflict(seq, kept)

    if to_quarantine:
        not_sent = quarantine.send(to_quarantine)
        for message in to_quarantine:
            outcome[message.sequence_number] = (
                FAILED if message.sequence_number in not_sent
                else CONFLICT if message.reason == CONFLICT_REASON else QUARANTINED + message.reason)

    return BatchResult({r.sequence_number: outcome[r.sequence_number] for r in records}, published)


def _values(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{name}={value!r}" for name, value in metrics.items()) or "no metrics"


def _publish_alerts(pending: dict[Key, str], readings: dict[str, Reading], publisher: AlertPublisher,
                    rules: tuple[AlertRule, ...], fail) -> int:
    planned = [(key, alert) for key, seq in pending.items() for alert in alerts_for(readings[seq], rules)]
    if not planned:
        return 0
    not_published = publisher.publish([alert for _, alert in planned])
    fail({planned[index][0] for index in not_published})
    return len(planned) - len(not_published)


def _update_latest_states(pending: dict[Key, str], readings: dict[str, Reading], lookup: Lookup,
                          store: ReadingStore, fail) -> None:
    newest: dict[str, Reading] = {}
    for seq in pending.values():
        reading = readings[seq]
        current = newest.get(reading.device_id)
        if current is None or reading.ts > current.ts:   # normalised ts sorts chronologically
            newest[reading.device_id] = reading
    newer = [r for device, r in newest.items() if r.ts > lookup.latest.get(device, "")]
    if not newer:
        return
    not_updated = store.put_latest(newer)
    fail({key for key in pending if key[0] in not_updated})
