"""The Kinesis event source mapping in front of the IoT writer, played one batch at a time.

It delivers a shard's batch to the handler, redelivers from the first failed record as Lambda
does with ReportBatchItemFailures (up to the mapping's retry_attempts), and settles each record
once, from the writer's own metrics (EMF lines it prints) and its quarantine queue.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.lambda_runtime import LocalContext, emf_metric_totals

MAX_REDELIVERIES = 3      # the event source mapping's retry_attempts
# The quarantine reason the writer gives a conflicting reading.
CONFLICT_REASON = load_lambda_module("iot_writer", "iot_writer_batch").CONFLICT_REASON


class MappingMismatch(AssertionError):
    """The handler answered about records the mapping did not deliver."""


class EventSourceMapping:
    """Plays the event source mapping for one batch at a time and settles each record once.

    With ReportBatchItemFailures, Lambda delivers a batch again from its lowest failed
    sequence number, so records after it that had succeeded come back too ("replays").
    The writer counts a replay again (as a duplicate, or quarantined again); the
    mapping takes those out so that every record is counted by its first successful outcome.
    `aws` needs `kinesis_event`, `drain` and `quarantine_url` (see refarch.local.iot_telemetry).
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
            raise MappingMismatch(f"writer reported failures for records not in the batch: {sorted(unknown)}")
        return failures, emf_metric_totals(printed.getvalue())
