"""The FirehoseParquet run's report: every line sent is converted to Parquet, failed (kept under
errors/) or dropped; the Parquet rows, their status classes and the error objects add up to
those counts, and exactly the lines generated malformed failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FirehoseRunReport:
    sent: int
    ok: int
    processing_failed: int
    dropped: int
    rows_by_partition: dict[str, int]
    rows_by_status_class: dict[str, int]
    failed_by_partition: dict[str, int]
    parquet_schema: tuple[tuple[str, str], ...]
    output: Path
    expected_malformed: int = field(default=0)

    def __post_init__(self) -> None:
        problems = []
        if self.sent != self.ok + self.processing_failed + self.dropped:
            problems.append(f"sent {self.sent} != ok {self.ok} + failed {self.processing_failed} "
                            f"+ dropped {self.dropped}")
        if sum(self.rows_by_partition.values()) != self.ok:
            problems.append(f"Parquet rows {sum(self.rows_by_partition.values())} != ok {self.ok}")
        if sum(self.rows_by_status_class.values()) != self.ok:
            problems.append("rows by status class do not add up to the ok count")
        if sum(self.failed_by_partition.values()) != self.processing_failed:
            problems.append("error objects do not add up to the failed count")
        if self.processing_failed != self.expected_malformed:
            problems.append(f"{self.processing_failed} lines failed but {self.expected_malformed} "
                            "were generated malformed")
        if problems:
            raise AssertionError("FirehoseParquet local run does not add up: " + "; ".join(problems))

    def summary_lines(self) -> list[str]:
        lines = [f"lines sent {self.sent}: converted to Parquet {self.ok}, "
                 f"processing failed {self.processing_failed} (kept under errors/), "
                 f"re-ingested {self.dropped}"]
        lines += [f"  dt={dt}: {rows} rows" for dt, rows in sorted(self.rows_by_partition.items())]
        lines.append("  by status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.rows_by_status_class.items())))
        lines.append("  Parquet columns: " + ", ".join(f"{n} {t}" for n, t in self.parquet_schema))
        return lines
