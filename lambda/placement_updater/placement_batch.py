"""The updater's core: one batch of CTR windows in, one ranking write per placement out.

`process_batch` decides; the store and quarantine it is given (DynamoDB and SQS in Lambda,
fakes in tests) do the I/O.

Every record ends as exactly one of:
  ranked        its window is the batch's newest for its placement, and its ad is in the
                write for that window (which replaces, merges, leaves unchanged or is
                rejected as stale by the table's condition: counted per write)
  superseded    an older window of a placement whose newer window is in the same batch:
                writing it first would be overwritten at once, so it is not written
  no_impressions  the ad had no impression in the window (only clicks on earlier
                impressions): the window carries no rate for it, so it is not ranked
  quarantined   not a CTR window (malformed): sent to the quarantine with a reason, never retried
  failed        its placement's write failed transiently, or its quarantine message was not
                sent: reported as a batch item failure so Lambda delivers it again

A redelivered batch is harmless: each window is conditioned on the stored window end, so
an older one is rejected and the stored one is found unchanged (no write at all).
Checkpointing: Lambda restarts a Kinesis batch from the lowest reported sequence number,
so every record of a failed placement is reported; the records after it come back, and
end as unchanged or stale.
"""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from placement_scoring import ScoringRules, entry
from placement_store import QuarantineMessage, RankingWrite, StoreUnavailable
from placement_window import InvalidWindow, Window, decode_window

HOUR_S = 3600


@dataclass(frozen=True)
class StreamRecord:
    sequence_number: str
    partition_key: str
    data: str   # base64, as Lambda delivers it

    @classmethod
    def from_event(cls, record: Mapping[str, Any]) -> StreamRecord:
        kinesis = record["kinesis"]
        return cls(kinesis["sequenceNumber"], kinesis.get("partitionKey", ""), kinesis["data"])


class Store(Protocol):
    def write(self, ranking: RankingWrite) -> str: ...


class Quarantine(Protocol):
    def send(self, messages: Sequence[QuarantineMessage]) -> set[str]: ...


@dataclass
class BatchResult:
    writes: Counter = field(default_factory=Counter)          # outcome of each placement write
    records: Counter = field(default_factory=Counter)         # ranked / superseded / no_impressions
    quarantined_by_reason: Counter = field(default_factory=Counter)
    failed_sequence_numbers: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": n} for n in self.failed_sequence_numbers]}


def process_batch(records: Sequence[StreamRecord], store: Store, quarantine: Quarantine, *,
                  rules: ScoringRules, ttl_hours: int) -> BatchResult:
    result = BatchResult()
    by_placement: dict[str, list[tuple[StreamRecord, Window]]] = defaultdict(list)
    to_quarantine: list[QuarantineMessage] = []
    for record in records:
        try:
            window = decode_window(record.data)
        except InvalidWindow as invalid:
            to_quarantine.append(QuarantineMessage(record.sequence_number, record.partition_key,
                                                   invalid.reason, _text(record.data)))
            continue
        if window.impressions == 0:
            result.records["no_impressions"] += 1
            continue
        by_placement[window.placement_id].append((record, window))

    not_sent = quarantine.send(to_quarantine) if to_quarantine else set()
    for message in to_quarantine:
        if message.sequence_number in not_sent:
            result.failed_sequence_numbers.append(message.sequence_number)
        else:
            result.quarantined_by_reason[message.reason] += 1

    for placement, windows in by_placement.items():
        newest = max(w.window_end_ms for _, w in windows)
        current = [w for _, w in windows if w.window_end_ms == newest]
        start = current[0].window_start_ms
        entries = {w.ad_id: entry(w.impressions, w.clicks, w.unattributed_clicks, rules) for w in current}
        write = RankingWrite(placement, start, newest, entries, rules.prior_ctr,
                             expires_at=newest // 1000 + ttl_hours * HOUR_S)
        try:
            result.writes[store.write(write)] += 1
            result.records["ranked"] += len(current)
            if len(windows) > len(current):
                result.records["superseded"] += len(windows) - len(current)
        except StoreUnavailable:
            result.writes["failed"] += 1
            result.failed_sequence_numbers += [r.sequence_number for r, _ in windows]
    return result


def _text(data: str) -> str:
    try:
        return base64.b64decode(data).decode("utf-8", errors="replace")
    except ValueError:
        return data
