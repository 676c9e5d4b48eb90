"""Redshift streaming ingestion, locally on DuckDB: records as the Kinesis external table serves
them (arrival time, partition key, shard, sequence number, the record as VARBYTE), the
materialized view's SELECT (sql/redshift/streaming/setup/03) run on them after sqlglot, with
Redshift's VARBYTE functions as DuckDB macros, then the streaming queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from refarch.constructs.athena import read_named_queries
from refarch.local.engines.duckdb_sql import QueryResult
from refarch.paths import SQL_ROOT

STREAMING_SQL = SQL_ROOT / "redshift" / "streaming"
LOCAL_STREAM = "refarch-local-CleanEvents"


@dataclass(frozen=True)
class StreamingViewResult:
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


def run_streaming_view(records: list[str], *, arrived: datetime | None = None) -> StreamingViewResult:
    """The clean records through the streaming view (as a refreshed materialized view holds them),
    then the analytic queries of sql/redshift/streaming/queries/ over it."""
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
    return StreamingViewResult(rows, queries)


def _redshift_to_duckdb(sql: str) -> str:
    import sqlglot
    from sqlglot.errors import ErrorLevel
    (statement,) = sqlglot.transpile(sql, read="redshift", write="duckdb", unsupported_level=ErrorLevel.RAISE)
    return statement
