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

import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from refarch.local.engines.duckdb_sql import load_named_queries, run_named_query
from refarch.local.engines.glue import load_etl_job
from refarch.local.generators.trades import DAYS, MIN_ROWS, START, generate_trades
from refarch.local.lake_catalog import REJECTED_COLUMNS, TRADES_COLUMNS
from refarch.local.reports.data_lake import DataLakeRunReport

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import SparkSession


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
