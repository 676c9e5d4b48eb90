"""BatchDataLake, run locally: raw CSV -> the real Glue job on local Spark -> Parquet -> Athena SQL on DuckDB.

`run_data_lake` generates seeded raw trade CSV (with re-delivered trades, conflicting
versions of a trade and bad rows of every kind the job rejects), runs
jobs/glue/trades_etl.py's `main` with Glue-style arguments on local Spark (Glue 5.0 runs
Spark 3.5 too), then runs every named query of sql/athena/ on DuckDB over the job's output,
after sqlglot has transpiled it from Trino (Athena engine v3) to DuckDB. S3 is the local
disk; the Glue catalog is a pair of DuckDB views with the tables' declared types.

Where the report's numbers come from, so that they check each other:
  rows read / written, duplicates, rejected by reason   the job's quality summary JSON (as written)
  partitions                                            the trade_date=... folders on disk
  curated rows, distinct trade ids, rejected rows       DuckDB reading the Parquet back
  query results                                         the named queries on DuckDB
and all of them are compared with what the generator injected.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from refarch.paths import JOBS_ROOT, SQL_ROOT

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession

ETL_SCRIPT = JOBS_ROOT / "glue" / "trades_etl.py"
ATHENA_QUERIES = SQL_ROOT / "athena"
HEADER = ("trade_id", "symbol", "side", "quantity", "price", "trade_ts")

# The reasons the job rejects a row for (jobs/glue/trades_etl.py REASONS), all injected.
REJECT_REASONS = ("malformed_row", "missing_trade_id", "bad_trade_id", "bad_symbol", "bad_side",
                  "bad_quantity", "bad_price", "bad_timestamp", "timestamp_out_of_range", "duplicate_trade_id")
MIN_ROWS = 2 * len(REJECT_REASONS) + 2     # a row of each reason, and trades to duplicate

# --- sample data ---------------------------------------------------------------------

SYMBOLS = {"AAPL": 190, "MSFT": 410, "AMZN": 180, "BRK.B": 405, "NVDA": 880, "JPM": 195, "XOM": 115}
START = datetime(2024, 5, 1, tzinfo=UTC)   # fixed, so a seeded run is reproducible
DAYS = 3
# Local offsets the trading systems report in; with -05:00 and +05:30 some trades carry a local
# calendar day other than their UTC trade_date.
ZONES = (timedelta(0), timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5, minutes=30))
DUPLICATE_RATE = 0.04     # re-deliveries of a trade (same values, possibly formatted differently)
REJECT_RATE = 0.01        # per reason; at least one row of each reason

# How a bad row differs from a good one: (field, raw values that must fail exactly that check).
BAD_VALUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing_trade_id": ("trade_id", ("", "   ")),
    # over the warehouse's VARCHAR(64) (in bytes: the accented one is 36 characters, 66 bytes), or a control character
    "bad_trade_id": ("trade_id", ("X" * 65, "TRADE-" + "\u00e9" * 30, "TAB\t1", "NUL\x001", "\x1b[31mESC",
                                  "DEL\x7f")),
    "bad_symbol": ("symbol", ("", "TOOLONGSYMB", "BRK/B", "A1")),
    "bad_side": ("side", ("", "HOLD", "B", "short")),
    "bad_quantity": ("quantity", ("", "0", "-10", "1.5", "12a", "1e3")),
    "bad_price": ("price", ("", "0", "-1.25", "abc", "12.34567", "0.0000")),
    "bad_timestamp": ("trade_ts", ("", "2024-05-01 10:00:00", "2024-05-01T10:00:00", "2024-02-30T10:00:00Z",
                                   "2024-05-01T25:00:00Z", "yesterday", "1714557600")),
    # real instants, but before the first trade date (2024-01-01) or after the day following the run
    "timestamp_out_of_range": ("trade_ts", ("2023-12-31T23:59:59Z", "1999-01-01T00:00:00Z",
                                            "2024-05-10T00:00:00+02:00", "2099-01-01T00:00:00Z")),
}


@dataclass(frozen=True)
class Trade:
    trade_id: str
    symbol: str
    side: str
    quantity: int
    price: Decimal
    trade_ts: datetime      # UTC

    @property
    def trade_date(self) -> str:
        return self.trade_ts.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Injected:
    """What the generator put into the raw CSV, by kind: the truth a run is compared with."""
    trades: int                           # distinct valid trades: the curated rows
    duplicates: int                       # re-deliveries of one of those trades
    rejected_by_reason: dict[str, int]
    trade_dates: tuple[str, ...]          # UTC dates of the trades: the curated partitions
    volume: int                           # sum of quantity over the trades
    notional: Decimal                     # sum of price * quantity over the trades

    @property
    def rows(self) -> int:
        return self.trades + self.duplicates + sum(self.rejected_by_reason.values())


@dataclass(frozen=True)
class RawTrades:
    files: dict[str, str]                 # relative path -> CSV text (with header)
    trades: tuple[Trade, ...]             # the valid trades, one per trade_id
    injected: Injected


def generate_trades(rows: int, *, seed: int = 11) -> RawTrades:
    """`rows` raw CSV rows (excluding headers) in two files, seeded."""
    if rows < MIN_ROWS:
        raise ValueError(f"rows={rows}: allowed {MIN_ROWS} to 1000000")
    rng = random.Random(seed)
    per_reason = max(1, round(rows * REJECT_RATE))
    duplicates = max(1, round(rows * DUPLICATE_RATE))
    trade_count = rows - duplicates - per_reason * len(REJECT_REASONS)
    if trade_count < per_reason + 1:
        raise ValueError(f"rows={rows}: too few rows for the injected duplicates and rejects")

    serial = iter(range(1, 10_000_000))
    trades = [_trade(rng, next(serial)) for _ in range(trade_count)]
    lines: list[list[str]] = [_render(rng, trade) for trade in trades]
    for _ in range(duplicates):                    # a re-delivery, maybe formatted differently
        lines.append(_render(rng, rng.choice(trades), reformat=True))
    for trade in rng.sample(trades, per_reason):   # a later, different version of a kept trade
        lines.append(_render(rng, Trade(trade.trade_id, trade.symbol, trade.side, trade.quantity,
                                        trade.price + Decimal("0.01"),
                                        trade.trade_ts + timedelta(seconds=rng.randint(1, 600)))))
    for reason in REJECT_REASONS[:-1]:
        for _ in range(per_reason):
            line = _render(rng, _trade(rng, next(serial)))
            if reason == "malformed_row":
                line = line[:-1] if rng.random() < 0.5 else [*line, "EXTRA"]
            else:
                column, values = BAD_VALUES[reason]
                line[HEADER.index(column)] = rng.choice(values)
            lines.append(line)
    rng.shuffle(lines)

    half = len(lines) // 2
    files = {"batch=1/trades.csv": _csv(lines[:half]), "batch=2/trades.csv": _csv(lines[half:])}
    injected = Injected(
        trades=trade_count, duplicates=duplicates,
        rejected_by_reason={reason: per_reason for reason in sorted(REJECT_REASONS)},
        trade_dates=tuple(sorted({t.trade_date for t in trades})),
        volume=sum(t.quantity for t in trades),
        notional=sum((t.price * t.quantity for t in trades), Decimal(0)))
    return RawTrades(files, tuple(trades), injected)


def _trade(rng: random.Random, serial: int) -> Trade:
    symbol = rng.choice(sorted(SYMBOLS))
    price = Decimal(SYMBOLS[symbol]) * Decimal(str(round(rng.uniform(0.95, 1.05), 4)))
    cents = 4 if rng.random() < 0.1 else 2
    seconds = rng.randrange(DAYS * 86_400)
    millis = rng.randrange(1000) if rng.random() < 0.2 else 0
    return Trade(f"T{serial:07d}", symbol, rng.choice(("BUY", "SELL")), rng.randint(1, 1_000),
                 price.quantize(Decimal(1).scaleb(-cents)),
                 START + timedelta(seconds=seconds, milliseconds=millis))


def _render(rng: random.Random, trade: Trade, *, reformat: bool = False) -> list[str]:
    """The raw CSV fields of a trade; `reformat` writes the same values another way
    (case, padding, trailing zeros, another UTC offset), as a second system would."""
    zone = rng.choice(ZONES)
    local = trade.trade_ts.astimezone(timezone(zone))
    timespec = "milliseconds" if trade.trade_ts.microsecond or (reformat and rng.random() < 0.5) else "seconds"
    ts = local.isoformat(timespec=timespec)
    if zone == timedelta(0) and rng.random() < 0.5:
        ts = ts.replace("+00:00", "Z")
    fields = [trade.trade_id, trade.symbol, trade.side, str(trade.quantity), str(trade.price), ts]
    if reformat:
        decimals = -trade.price.as_tuple().exponent
        fields[1] = trade.symbol.lower() if rng.random() < 0.3 else trade.symbol
        fields[2] = trade.side.lower() if rng.random() < 0.3 else trade.side
        fields[3] = f" {trade.quantity} " if rng.random() < 0.3 else fields[3]
        fields[4] = f"{trade.price:.{rng.randint(decimals, 4)}f}"
    return fields


def _csv(lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(lines)
    return buffer.getvalue()


# --- the Glue job and the named queries ------------------------------------------------

def load_etl_job() -> ModuleType:
    """jobs/glue/trades_etl.py as a module (jobs/ is not a package: Glue runs the file)."""
    name = "glue_trades_etl"
    loaded = sys.modules.get(name)
    if loaded is not None and Path(loaded.__file__ or "") == ETL_SCRIPT:
        return loaded
    if not ETL_SCRIPT.is_file():
        raise FileNotFoundError(f"no Glue job script {ETL_SCRIPT} (is refarch installed from its source tree?)")
    spec = importlib.util.spec_from_file_location(name, ETL_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module         # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


@dataclass(frozen=True)
class NamedQuery:
    name: str            # the file name without .sql: the Athena named query's name
    description: str     # the file's first comment line
    sql: str             # Athena (Trino) SQL, one statement


def load_named_queries(folder: Path = ATHENA_QUERIES) -> tuple[NamedQuery, ...]:
    queries = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text()
        first = sql.lstrip().splitlines()[0] if sql.strip() else ""
        if not first.startswith("--"):
            raise ValueError(f"{path}: the first line must be a `--` comment describing the query")
        queries.append(NamedQuery(path.stem, first[2:].strip(), sql))
    return tuple(queries)


def to_duckdb(sql: str) -> str:
    """One Athena (Trino) statement in DuckDB's dialect; unsupported constructs raise."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    statements = sqlglot.transpile(sql, read="trino", write="duckdb", unsupported_level=ErrorLevel.RAISE)
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


# The Glue catalog's view of the two tables: declared types over the Parquet files.
TRADES_COLUMNS = {"trade_id": "VARCHAR", "symbol": "VARCHAR", "side": "VARCHAR", "quantity": "BIGINT",
                  "price": "DECIMAL(18, 4)", "trade_ts": "TIMESTAMP", "trade_date": "VARCHAR"}
REJECTED_COLUMNS = {"trade_id": "VARCHAR", "symbol": "VARCHAR", "side": "VARCHAR", "quantity": "VARCHAR",
                    "price": "VARCHAR", "trade_ts": "VARCHAR", "malformed_record": "VARCHAR",
                    "reason": "VARCHAR", "trade_date": "VARCHAR"}


def open_lake(curated: Path, rejected: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views `trades` and `trades_rejected` over the job's output
    (Hive-style trade_date folders; trade_date stays a string, as in the Glue table)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for table, folder, columns in (("trades", curated, TRADES_COLUMNS),
                                   ("trades_rejected", rejected, REJECTED_COLUMNS)):
        select = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns.items())
        if any(Path(folder).glob("**/*.parquet")):
            glob = str(Path(folder) / "**" / "*.parquet").replace("'", "''")
            source = (f"read_parquet('{glob}', hive_partitioning = true,"
                      f" hive_types = {{'trade_date': 'VARCHAR'}})")
        else:   # no files yet: an empty table of the same shape
            source = "(SELECT " + ", ".join(f"NULL AS {name}" for name in columns) + " WHERE false)"
        connection.execute(f"CREATE VIEW {table} AS SELECT {select} FROM {source}")
    return connection


@dataclass(frozen=True)
class QueryResult:
    name: str
    description: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def preview(self, limit: int = 5) -> list[str]:
        """The first rows as aligned text lines (header first)."""
        cells = [list(self.columns)] + [[_cell(value) for value in row] for row in self.rows[:limit]]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in cells]
        if len(self.rows) > limit:
            lines.append(f"... {len(self.rows) - limit} more rows")
        return lines


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def run_named_query(connection: duckdb.DuckDBPyConnection, query: NamedQuery) -> QueryResult:
    cursor = connection.execute(to_duckdb(query.sql))
    columns = tuple(column[0] for column in cursor.description)
    return QueryResult(query.name, query.description, columns, tuple(tuple(row) for row in cursor.fetchall()))


# --- the report ----------------------------------------------------------------------

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


# --- the run -------------------------------------------------------------------------

# The run's clock: the night after the sample's last day, so a seeded run is reproducible.
AS_OF = START + timedelta(days=DAYS, hours=2)


def glue_arguments(root: Path, run_id: str) -> list[str]:
    """The job's arguments as Glue passes them, including ones the job must ignore."""
    return ["--JOB_NAME", "trades_etl", "--JOB_ID", "j_local", "--JOB_RUN_ID", run_id,
            "--as_of", AS_OF.isoformat(), "--first_trade_date", "2024-01-01",
            "--job-bookmark-option", "job-bookmark-disable", "--TempDir", str(root / "tmp"),
            "--enable-metrics", "true", "--enable-glue-datacatalog", "true",
            "--source_path", str(root / "raw" / "trades"),
            "--target_path", str(root / "curated" / "trades"),
            "--rejected_path", str(root / "curated" / "trades_rejected"),
            "--quality_path", str(root / "curated" / "_quality")]


def run_data_lake(rows: int = 2000, *, seed: int = 11, workdir: Path | None = None,
                  spark: SparkSession | None = None) -> DataLakeRunReport:
    """Generate `rows` raw rows, run the Glue job and the named queries; `workdir` keeps
    the lake (default: a new temporary folder, left in place for inspection)."""
    if not MIN_ROWS <= rows <= 1_000_000:
        raise ValueError(f"rows={rows}: allowed {MIN_ROWS} to 1000000")
    raw = generate_trades(rows, seed=seed)
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="refarch-data-lake-"))
    for owned in (root / "raw" / "trades", root / "curated"):   # a clean lake for this run
        shutil.rmtree(owned, ignore_errors=True)
    for relative, text in raw.files.items():
        path = root / "raw" / "trades" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    job = load_etl_job()
    if spark is None:
        from refarch.local.engines.spark import local_spark
        spark = local_spark("refarch-data-lake")
    arguments = glue_arguments(root, run_id=f"local-seed{seed}-rows{rows}")
    job.main(arguments, spark=spark)
    args = job.parse_args(arguments)
    quality = json.loads(Path(args.summary_path).read_text())

    curated, rejected = Path(args.target_path), Path(args.rejected_path)
    connection = open_lake(curated, rejected)
    try:
        curated_rows, trade_ids = connection.execute(
            "SELECT count(*), count(DISTINCT trade_id) FROM trades").fetchone()
        rejected_rows = connection.execute("SELECT count(*) FROM trades_rejected").fetchone()[0]
        results = tuple(run_named_query(connection, query) for query in load_named_queries())
    finally:
        connection.close()

    return DataLakeRunReport(
        rows_read=quality["rows_read"], rows_written=quality["rows_written"],
        duplicates_removed=quality["duplicates_removed"],
        rejected_by_reason=dict(quality["rejected_by_reason"]),
        partitions=tuple(sorted(p.name.split("=", 1)[1] for p in curated.glob("trade_date=*") if p.is_dir())),
        curated_rows=curated_rows, curated_trade_ids=trade_ids, rejected_rows_stored=rejected_rows,
        queries=results, quality=quality,
        paths={"root": str(root), "raw": str(root / "raw" / "trades"), "curated": str(curated),
               "rejected": str(rejected), "quality": args.summary_path},
        injected=raw.injected)
