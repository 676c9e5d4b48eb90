"""The RedshiftWarehouse run's report: COPY put every lake row into staging, the load and a re-run
of it leave exactly those rows in analytics.trades (the reload is idempotent), the statements
read as written (COPY source, role, format; external schema), and the analytic queries agree
with the lake, and with what the sample lake wrote when the run wrote one."""

from __future__ import annotations

from dataclasses import dataclass, field

from refarch.local.engines.duckdb_sql import QueryResult
from refarch.local.engines.redshift_local import StatementRun
from refarch.local.engines.redshift_sql import REDSHIFT_ONLY
from refarch.local.generators.curated_lake import SampleLake
from refarch.local.reports.data_lake import ReportMismatch

RECONCILIATION_QUERY, SECTOR_QUERY, REJECTED_QUERY = (
    "02_load_reconciliation", "01_sector_daily_volume", "03_rejected_by_symbol")


class WarehouseReportMismatch(ReportMismatch):
    """The warehouse run's counts do not add up: a row was lost, duplicated or not reconciled."""


@dataclass(frozen=True)
class WarehouseRunReport:
    lake_rows: int                       # curated trade rows DuckDB reads from the Parquet
    lake_rejected_rows: int              # rows in the lake's trades_rejected
    copied_rows: int                     # rows the (local) COPY put into staging
    loaded_rows: int                     # rows in analytics.trades after the first load
    reloaded_rows: int                   # ... after running every statement again
    symbols: int                         # rows in analytics.symbols after the loads
    trade_dates: tuple[str, ...]         # the dates in analytics.trades
    statements: tuple[StatementRun, ...]  # the first load, in run order
    checks: dict[str, bool]              # the COPY and external-schema statements, as written
    queries: tuple[QueryResult, ...]
    paths: dict[str, str] = field(compare=False)
    sample: SampleLake | None = field(default=None, compare=False)   # set when the run wrote the lake

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise WarehouseReportMismatch("RedshiftWarehouse run does not add up: " + "; ".join(problems))

    def query(self, name: str) -> QueryResult:
        for result in self.queries:
            if result.name == name:
                return result
        raise KeyError(f"no query {name!r} in this run (have: {', '.join(q.name for q in self.queries)})")

    def problems(self) -> list[str]:
        found = []
        if self.copied_rows != self.lake_rows:
            found.append(f"COPY loaded {self.copied_rows} rows into staging, the lake holds {self.lake_rows}")
        if self.loaded_rows != self.lake_rows:
            found.append(f"analytics.trades holds {self.loaded_rows} rows after the load, the lake {self.lake_rows}")
        if self.reloaded_rows != self.loaded_rows:
            found.append(f"reloading changed analytics.trades from {self.loaded_rows} to {self.reloaded_rows} rows"
                         " (the reload is not idempotent)")
        failed = sorted(name for name, ok in self.checks.items() if not ok)
        if failed:
            found.append("statement checks failed: " + ", ".join(failed))
        names = {result.name for result in self.queries}
        if RECONCILIATION_QUERY in names:
            days = self.query(RECONCILIATION_QUERY).records()
            gaps = [f"{row['trade_date']} {row['status']}" for row in days if row["status"] != "ok"]
            if gaps:
                found.append(f"{RECONCILIATION_QUERY} reports gaps: {', '.join(gaps)}")
            if tuple(str(row["trade_date"]) for row in days) != self.trade_dates:
                found.append(f"{RECONCILIATION_QUERY} covers {[str(r['trade_date']) for r in days]},"
                             f" analytics.trades {list(self.trade_dates)}")
            if sum(row["warehouse_rows"] for row in days) != self.loaded_rows:
                found.append(f"{RECONCILIATION_QUERY} counts {sum(r['warehouse_rows'] for r in days)} warehouse rows,"
                             f" analytics.trades holds {self.loaded_rows}")
        if SECTOR_QUERY in names:
            counted = sum(row["trade_count"] for row in self.query(SECTOR_QUERY).records())
            if counted != self.lake_rows:
                found.append(f"{SECTOR_QUERY} counts {counted} trades, the lake holds {self.lake_rows}")
        if REJECTED_QUERY in names:
            counted = sum(row["rejected_rows"] for row in self.query(REJECTED_QUERY).records())
            if counted != self.lake_rejected_rows:
                found.append(f"{REJECTED_QUERY} counts {counted} rejected rows,"
                             f" the lake holds {self.lake_rejected_rows}")
        if self.sample is not None:
            for label, actual, wanted in (("lake rows", self.lake_rows, self.sample.trades),
                                          ("rejected rows", self.lake_rejected_rows, self.sample.rejected),
                                          ("trade dates", self.trade_dates, self.sample.trade_dates)):
                if actual != wanted:
                    found.append(f"{label} {actual} != written {wanted}")
            if SECTOR_QUERY in names:
                rows = self.query(SECTOR_QUERY).records()
                if sum(r["volume"] for r in rows) != self.sample.volume:
                    found.append(f"{SECTOR_QUERY} sums volume {sum(r['volume'] for r in rows)},"
                                 f" written {self.sample.volume}")
                if sum(r["notional"] for r in rows) != self.sample.notional:
                    found.append(f"{SECTOR_QUERY} sums notional {sum(r['notional'] for r in rows)},"
                                 f" written {self.sample.notional}")
        return found

    def rows(self) -> list[tuple[str, str]]:
        checks = sum(self.checks.values())
        return [
            ("curated lake", f"{self.lake_rows} trades in {len(self.trade_dates)} trade dates"
                             f" ({', '.join(self.trade_dates)}), {self.lake_rejected_rows} rejected rows"),
            ("loader statements", f"{len(self.statements)}: setup one by one ("
                                  + ", ".join(s.name for s in self.statements if s.phase == "setup")
                                  + "), then load as one transaction ("
                                  + ", ".join(s.name for s in self.statements if s.phase == "load") + ")"),
            *((f"{REDSHIFT_ONLY}: {s.name}", s.reason) for s in self.statements if s.how == REDSHIFT_ONLY),
            ("COPY into staging", f"{self.copied_rows} rows"),
            ("analytics.trades", f"{self.loaded_rows} rows after the load, {self.reloaded_rows} after a re-run"),
            ("analytics.symbols", f"{self.symbols} rows"),
            ("statement checks", f"{checks}/{len(self.checks)} passed (COPY source, role, format; external schema)"),
            ("analytic queries", ", ".join(f"{q.name} ({len(q.rows)} rows)" for q in self.queries)),
            ("lake", self.paths.get("curated", "")),
        ]

    def summary_lines(self) -> list[str]:
        width = max(len(label) for label, _ in self.rows())
        return [f"{label:<{width}}  {value}" for label, value in self.rows()]

    summary = summary_lines
