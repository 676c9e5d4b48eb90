"""The BatchDataLake run's report: every raw row read is written, removed as a duplicate or
rejected by reason; the Parquet read back, the partitions on disk and the named queries agree
with the job's quality summary, and all of them with what the generator injected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from refarch.local.engines.duckdb_sql import QueryResult
from refarch.local.generators.trades import Injected


class ReportMismatch(AssertionError):
    """The run's counts do not add up: a row went missing or was counted twice."""


VOLUME_QUERY, REJECTED_QUERY = "daily_volume_vwap", "rejected_rows_report"


@dataclass(frozen=True)
class DataLakeRunReport:
    rows_read: int
    rows_written: int
    duplicates_removed: int
    rejected_by_reason: dict[str, int]
    partitions: tuple[str, ...]           # trade_date=... folders under the curated path
    curated_rows: int                     # rows DuckDB reads back from the curated Parquet
    curated_trade_ids: int                # distinct trade_ids among them
    rejected_rows_stored: int             # rows DuckDB reads back from the rejected output
    queries: tuple[QueryResult, ...]
    quality: dict[str, Any] = field(compare=False)          # the summary JSON the job wrote
    paths: dict[str, str] = field(compare=False)
    injected: Injected | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ReportMismatch("BatchDataLake run does not add up: " + "; ".join(problems))

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def query(self, name: str) -> QueryResult:
        for result in self.queries:
            if result.name == name:
                return result
        raise KeyError(f"no named query {name!r} in this run (have: {', '.join(q.name for q in self.queries)})")

    def problems(self) -> list[str]:
        found = []
        accounted = self.rows_written + self.duplicates_removed + self.rows_rejected
        if self.rows_read != accounted:
            found.append(f"rows read {self.rows_read} != written {self.rows_written} + duplicates"
                         f" {self.duplicates_removed} + rejected {self.rows_rejected} = {accounted}")
        if self.curated_rows != self.rows_written:
            found.append(f"the curated Parquet holds {self.curated_rows} rows, the job wrote {self.rows_written}")
        if self.curated_trade_ids != self.curated_rows:
            found.append(f"{self.curated_rows - self.curated_trade_ids} duplicate trade_ids in the curated Parquet")
        if self.rejected_rows_stored != self.rows_rejected:
            found.append(f"the rejected output holds {self.rejected_rows_stored} rows, the job rejected {self.rows_rejected}")
        written_dates = tuple(sorted(self.quality.get("rows_by_trade_date", {})))
        if self.partitions != written_dates:
            found.append(f"partitions on disk {list(self.partitions)} != partitions written {list(written_dates)}")
        names = {result.name for result in self.queries}
        if VOLUME_QUERY in names:
            volume = self.query(VOLUME_QUERY).records()
            if sum(row["trade_count"] for row in volume) != self.rows_written:
                found.append(f"{VOLUME_QUERY} counts {sum(r['trade_count'] for r in volume)} trades,"
                             f" the job wrote {self.rows_written}")
            if self.injected and sum(row["volume"] for row in volume) != self.injected.volume:
                found.append(f"{VOLUME_QUERY} sums volume {sum(r['volume'] for r in volume)},"
                             f" the generator traded {self.injected.volume}")
            if self.injected and sum(row["notional"] for row in volume) != self.injected.notional:
                found.append(f"{VOLUME_QUERY} sums notional {sum(r['notional'] for r in volume)},"
                             f" the generator traded {self.injected.notional}")
        if REJECTED_QUERY in names:
            reported = sum(row["rejected_rows"] for row in self.query(REJECTED_QUERY).records())
            if reported != self.rows_rejected:
                found.append(f"{REJECTED_QUERY} reports {reported} rejected rows, the job rejected {self.rows_rejected}")
        if self.injected is not None:
            expected = self.injected
            for label, actual, wanted in (
                    ("rows read", self.rows_read, expected.rows),
                    ("rows written", self.rows_written, expected.trades),
                    ("duplicates removed", self.duplicates_removed, expected.duplicates),
                    ("rejected by reason", self.rejected_by_reason, expected.rejected_by_reason),
                    ("partitions", self.partitions, expected.trade_dates)):
                if actual != wanted:
                    found.append(f"{label} {actual} != injected {wanted}")
        return found

    def rows(self) -> list[tuple[str, str]]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.rejected_by_reason.items())
        queries = ", ".join(f"{result.name} ({len(result.rows)} rows)" for result in self.queries)
        return [
            ("raw rows read", str(self.rows_read)),
            ("curated rows written", (f"{self.rows_written} in {len(self.partitions)} trade_date partitions"
                                      f" ({', '.join(self.partitions)})")),
            ("duplicates removed", str(self.duplicates_removed)),
            ("rejected", f"{self.rows_rejected}" + (f" ({reasons})" if reasons else "")),
            ("read back by DuckDB", (f"{self.curated_rows} curated rows ({self.curated_trade_ids} trade ids),"
                                     f" {self.rejected_rows_stored} rejected rows")),
            ("named queries on DuckDB", f"{len(self.queries)}: {queries}"),
            ("output", self.paths.get("root", "")),
        ]

    def summary(self) -> list[str]:
        width = max(len(label) for label, _ in self.rows())
        return [f"{label:<{width}}  {value}" for label, value in self.rows()]

    summary_lines = summary
