"""What each StreamingLogAnalytics sink would receive, checked locally.

  lake      the job's JSON rows converted to Parquet with the Glue tables' columns (as Firehose's
            record-format conversion does), under dt=<the record's date>/, read back with DuckDB,
            and the Athena named queries (sql/athena/clickstream, Trino) run on them after sqlglot
  search    each clean event, as Firehose would index it, checked against the index template's
            mapping: every field typed as mapped, none unmapped (the mapping is strict)
  warehouse the clean events as rows of the Kinesis external table (Redshift streaming ingestion's
            shape: arrival time, partition key, shard, sequence number, the record as VARBYTE), the
            materialized view's SELECT run on DuckDB (after sqlglot), then the analytic queries
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from refarch import clickstream_schema as schema
from refarch.constructs.athena import read_named_queries
from refarch.local.engines.duckdb_sql import QueryResult, run_named_query
from refarch.paths import SQL_ROOT

ATHENA_QUERIES = SQL_ROOT / "athena" / "clickstream"
STREAMING_SQL = SQL_ROOT / "redshift" / "streaming"
ARROW = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(),
         "boolean": pa.bool_(), "timestamp": pa.timestamp("ms")}
# lake table -> (the job's sink, its Glue columns, the field whose date partitions it)
LAKE_TABLES = {
    "clickstream_events": ("clean_events", schema.glue_columns(), "event_time"),
    "clickstream_windows": ("click_windows", schema.WINDOW_COLUMNS, "window_start"),
    "clickstream_dead_letters": ("dead_letters", schema.DEAD_LETTER_COLUMNS, "received_at"),
}
LOCAL_STREAM = "refarch-local-CleanEvents"


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def write_lake(rows: dict[str, list[dict]], root: Path) -> dict[str, dict[str, int]]:
    """Parquet per table and dt= partition; returns rows written per table and partition."""
    written: dict[str, dict[str, int]] = {}
    for table, (sink, columns, date_field) in LAKE_TABLES.items():
        arrow = pa.schema([(name, ARROW[kind]) for name, kind in columns])
        by_day: dict[str, list[dict]] = {}
        for row in rows[sink]:
            by_day.setdefault(row[date_field][:10], []).append(row)   # what the Firehose JQ query reads
        written[table] = {}
        for day, day_rows in sorted(by_day.items()):
            data = {name: [(_timestamp(r.get(name)) if kind == "timestamp" else r.get(name)) for r in day_rows]
                    for name, kind in columns}
            folder = root / table / f"dt={day}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(data, schema=arrow), folder / "part-0.parquet", compression="snappy")
            written[table][day] = len(day_rows)
    return written


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


# --- the search index ------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z?$")


def mapping_problems(document: dict[str, Any], mapping: dict[str, Any]) -> list[str]:
    """Why the strictly mapped index would refuse `document` (empty: it would index it)."""
    properties = mapping["properties"]
    problems = [f"unmapped field {name!r}" for name in document if name not in properties]
    for name, value in document.items():
        kind = properties.get(name, {}).get("type")
        if value is None or kind is None:
            continue
        if kind == "keyword" and (not isinstance(value, str) or len(value) > properties[name]["ignore_above"]):
            problems.append(f"{name}: {value!r} is not a keyword of at most {properties[name]['ignore_above']}")
        elif kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)
                                        and -2**31 <= value < 2**31):
            problems.append(f"{name}: {value!r} is not an integer")
        elif kind == "boolean" and not isinstance(value, bool):
            problems.append(f"{name}: {value!r} is not a boolean")
        elif kind == "date" and not (isinstance(value, str) and _DATE.match(value)):
            problems.append(f"{name}: {value!r} matches none of the formats {properties[name]['format']}")
    return problems


# --- the warehouse ---------------------------------------------------------------------

@dataclass(frozen=True)
class WarehouseResult:
    rows: list[dict[str, Any]]          # clickstream.events as the view computes it
    queries: list[QueryResult]


def kinesis_rows(records: list[str], *, arrived: datetime) -> list[tuple]:
    """The clean records as the Kinesis external table serves them to streaming ingestion."""
    return [(arrived + timedelta(milliseconds=n), _partition_key(r, n), "shardId-000000000000",
             f"{49650000000000000000000000000000000000 + n}", arrived + timedelta(seconds=30), r.encode())
            for n, r in enumerate(records)]


def _partition_key(record: str, n: int) -> str:
    try:
        return str(json.loads(record)["visitor_id"])
    except (ValueError, KeyError, TypeError):
        return f"record-{n}"


def events_view_sql(stream: str = LOCAL_STREAM) -> str:
    """The materialized view's SELECT (setup/03), in DuckDB's dialect, over the local stream table."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    text = (STREAMING_SQL / "setup" / "03_create_events_view.sql").read_text().replace("${STREAM_NAME}", stream)
    create = sqlglot.parse_one(text, read="redshift", error_level=ErrorLevel.RAISE)
    if not isinstance(create, exp.Create) or create.kind != "VIEW":
        raise ValueError("setup/03 must create the materialized view")
    select = create.expression
    for node in list(select.find_all(exp.ParseJSON)):   # JSON_PARSE takes the VARBYTE itself
        node.set("this", exp.Anonymous(this="FROM_VARBYTE", expressions=[node.this, exp.Literal.string("utf-8")]))
    return select.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)


def run_warehouse(records: list[str], *, arrived: datetime | None = None) -> WarehouseResult:
    import duckdb

    connection = duckdb.connect()
    # Redshift's VARBYTE functions, as DuckDB macros over BLOB.
    connection.execute("CREATE MACRO from_varbyte(b, encoding) AS decode(b)")
    connection.execute("CREATE MACRO can_json_parse(b) AS json_valid(decode(b))")
    connection.execute("CREATE SCHEMA clickstream_kinesis")
    connection.execute(f'CREATE TABLE clickstream_kinesis."{LOCAL_STREAM}" (approximate_arrival_timestamp TIMESTAMP, '
                       "partition_key VARCHAR, shard_id VARCHAR, sequence_number VARCHAR, refresh_time TIMESTAMP, "
                       "kinesis_data BLOB)")
    connection.executemany(f'INSERT INTO clickstream_kinesis."{LOCAL_STREAM}" VALUES (?, ?, ?, ?, ?, ?)',
                           kinesis_rows(records, arrived=arrived or datetime(2024, 5, 1, 12, tzinfo=UTC)))
    connection.execute("CREATE SCHEMA clickstream")
    connection.execute(f"CREATE TABLE clickstream.events AS {events_view_sql()}")   # a refreshed MV holds rows
    cursor = connection.execute("SELECT * FROM clickstream.events ORDER BY sequence_number")
    names = [c[0] for c in cursor.description]
    rows = [dict(zip(names, values)) for values in cursor.fetchall()]
    queries = []
    for query in read_named_queries(STREAMING_SQL / "queries"):
        cursor = connection.execute(_redshift_to_duckdb(query.sql))
        queries.append(QueryResult(query.name, query.description, tuple(c[0] for c in cursor.description),
                                   tuple(tuple(row) for row in cursor.fetchall())))
    return WarehouseResult(rows, queries)


def _redshift_to_duckdb(sql: str) -> str:
    import sqlglot
    from sqlglot.errors import ErrorLevel
    (statement,) = sqlglot.transpile(sql, read="redshift", write="duckdb", unsupported_level=ErrorLevel.RAISE)
    return statement
