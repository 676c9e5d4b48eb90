"""StreamingLogAnalytics, run locally: websites' posts through the edge, the Flink job on PyFlink,
and what each of the three sinks would receive, with counts that add up.

  edge       every post validated against the collection API's JSON-schema model (jsonschema,
             draft 4, what API Gateway applies): a refused post is a 400 with the validator's
             reason; an accepted one becomes one Kinesis record per event
  stream     those records, plus what a server-side producer puts on the stream directly
  job        jobs/flink/streaming_log on local PyFlink: dead letters by reason, duplicates
             removed, clean events flagged (bot, late), windows, sessions, 5xx alerts
  sinks      the lake (Parquet read back by DuckDB, the Athena named queries), the search index
             (every document against the strict mapping), the warehouse (the streaming view's SQL
             on DuckDB over rows shaped as streaming ingestion delivers them)

The report checks itself (StreamingLogMismatch when something does not add up).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from refarch import clickstream_schema as schema
from refarch.constructs.athena import read_named_queries
from refarch.local.engines.api_gateway import edge_reasons
from refarch.local.engines.duckdb_sql import QueryResult, run_named_query
from refarch.local.engines.firehose import write_dated_parquet
from refarch.local.engines.opensearch import mapping_problems
from refarch.local.engines.redshift_streaming import run_streaming_view
from refarch.local.generators.clickstream import Traffic, generate_traffic
from refarch.local.reports.streaming_log import StreamingLogReport
from refarch.local.streaming_log_job import JobOutput, run_job
from refarch.paths import SQL_ROOT

ATHENA_QUERIES = SQL_ROOT / "athena" / "clickstream"
# lake table -> (the job's sink, its Glue columns, the field whose date partitions it)
LAKE_TABLES = {
    "clickstream_events": ("clean_events", schema.glue_columns(), "event_time"),
    "clickstream_windows": ("click_windows", schema.WINDOW_COLUMNS, "window_start"),
    "clickstream_dead_letters": ("dead_letters", schema.DEAD_LETTER_COLUMNS, "received_at"),
}


def run_streaming_log(size: int = 400, *, seed: int = 12, batch_size: int = 20, batch_max: int = schema.MAX_BATCH,
                      table_env: Any = None, workdir: Path | None = None) -> StreamingLogReport:
    """`batch_max`: the API's batch limit (setting clickstream_batch_max), as its model applies it."""
    if not 1 <= batch_size <= batch_max:
        raise ValueError(f"batch_size={batch_size}: allowed 1 to batch_max ({batch_max})")
    traffic = generate_traffic(size, seed, batch_size=batch_size)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="refarch-streaming-log-") as scratch:
            return _run(traffic, Path(scratch), table_env, batch_max)
    return _run(traffic, Path(workdir), table_env, batch_max)


def _run(traffic: Traffic, workdir: Path, table_env: Any, batch_max: int) -> StreamingLogReport:
    accepted, refused = edge_reasons(traffic.posts, batch_max)
    stream = list(accepted)
    for position, record in reversed(traffic.direct):
        stream.insert(position, record)
    output: JobOutput = run_job(stream, table_env=table_env, workdir=workdir / "job")
    clean = output.rows["clean_events"]
    written = write_lake(output.rows, workdir / "lake")
    lake_rows, queries = query_lake(workdir / "lake")
    documents = [json.dumps(row) for row in clean]
    problems = [p for doc in clean for p in mapping_problems(doc, schema.opensearch_mapping())]
    warehouse = run_streaming_view(documents)
    lake_ids = sorted((r["event_id"], r["status"], r["late"], r["is_bot"]) for r in clean)
    view_ids = sorted((r["event_id"], r["status"], r["late"], r["is_bot"]) for r in warehouse.rows)
    windows = Counter(r["window_kind"] for r in output.rows["click_windows"])
    return StreamingLogReport(
        posted=sum(len(p) for p in traffic.posts), refused_at_edge=refused, accepted=len(accepted),
        direct=len(traffic.direct), dead_letters=Counter(r["reason"] for r in output.rows["dead_letters"]),
        duplicates=len(stream) - len(clean) - len(output.rows["dead_letters"]), clean=len(clean),
        late=sum(r["late"] for r in clean), bots=sum(r["is_bot"] for r in clean),
        late_humans=sum(r["late"] and not r["is_bot"] for r in clean),
        alerts=len(output.rows["server_error_alerts"]),
        server_errors=sum(500 <= r["status"] <= 599 for r in clean),
        windows={kind: windows[kind] for kind in schema.WINDOW_KINDS},
        page_views_counted=sum(r["page_views"] for r in output.windows("page_views_1m")),
        session_page_views=sum(r["page_views"] for r in output.windows("visitor_session")),
        hop_memberships=sum(r["request_count"] for r in output.windows("error_rate_5m")),
        lake_rows=lake_rows, lake_partitions={t: len(days) for t, days in written.items()},
        search_documents=len(documents), search_problems=problems, warehouse_rows=len(warehouse.rows),
        warehouse_matches_lake=lake_ids == view_ids, queries=queries + warehouse.queries, expected=traffic,
        seconds=output.seconds)


def write_lake(rows: dict[str, list[dict]], root: Path) -> dict[str, dict[str, int]]:
    """Each sink's rows as its delivery stream writes them to its lake table; rows per table and
    dt= partition."""
    return {table: write_dated_parquet(rows[sink], columns, date_field, root / table)
            for table, (sink, columns, date_field) in LAKE_TABLES.items()}


def query_lake(root: Path) -> tuple[dict[str, int], list[QueryResult]]:
    """Rows per lake table as DuckDB reads the Parquet back, and every named query's result."""
    import duckdb

    connection = duckdb.connect()
    counts = {}
    for table in LAKE_TABLES:
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet("
                           f"'{root / table}/*/*.parquet', hive_partitioning = true)")
        counts[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return counts, [run_named_query(connection, query) for query in read_named_queries(ATHENA_QUERIES)]
