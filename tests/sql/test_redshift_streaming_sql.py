"""Redshift streaming ingestion SQL (sql/redshift/streaming): valid Redshift for sqlglot, the
external schema FROM KINESIS on the role placeholder, an auto-refreshing materialized view over
the stream, and the view's SELECT on DuckDB over rows shaped as Kinesis delivers them, with
known values; the analytic queries over it too."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from refarch.local.engines.redshift_streaming import STREAMING_SQL, events_view_sql, run_streaming_view

FILES = sorted(STREAMING_SQL.rglob("*.sql"))


def clean(n: int, **fields) -> str:
    row = {"event_id": f"e-{n}", "visitor_id": "v-1", "session_hint": None, "page": "/", "referrer": None,
           "user_agent": "Mozilla/5.0", "status": 200, "load_time_ms": 120, "event_time": "2024-05-01 10:00:05",
           "is_bot": False, "late": False}
    return json.dumps({**row, **fields})


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_file_is_one_redshift_statement(path: Path):
    statements = [s for s in sqlglot.parse(path.read_text(), read="redshift", error_level=ErrorLevel.RAISE) if s]
    assert len(statements) == 1


def test_the_external_schema_reads_kinesis_with_the_streaming_role():
    text = " ".join((STREAMING_SQL / "setup" / "02_create_kinesis_schema.sql").read_text().split())
    assert "CREATE EXTERNAL SCHEMA IF NOT EXISTS clickstream_kinesis FROM KINESIS IAM_ROLE '${STREAMING_ROLE_ARN}';" in text


def test_the_view_is_materialized_refreshes_itself_and_reads_the_stream_placeholder():
    create = sqlglot.parse_one((STREAMING_SQL / "setup" / "03_create_events_view.sql").read_text(), read="redshift")
    assert isinstance(create, exp.Create) and create.kind == "VIEW"
    kinds = {type(p).__name__ for p in create.args["properties"].expressions}
    assert {"MaterializedProperty", "AutoRefreshProperty"} <= kinds
    assert create.args["properties"].find(exp.AutoRefreshProperty).this.name.upper() == "YES"
    (source,) = create.expression.find_all(exp.Table)
    assert (source.db, source.name) == ("clickstream_kinesis", "${STREAM_NAME}")
    assert isinstance(create.expression.args["where"].this, exp.Anonymous)   # CAN_JSON_PARSE(kinesis_data)


def test_the_view_types_each_field_from_the_kinesis_record():
    result = run_streaming_view([clean(1, status=503, page="/cart", session_hint="s-9", referrer=""),
                            clean(2, event_time="2024-05-01 10:01:07.250", is_bot=True, late=True, load_time_ms=None)],
                           arrived=datetime(2024, 5, 1, 10, 2))
    first, second = result.rows
    assert {k: first[k] for k in ("event_id", "page", "status", "session_hint", "referrer", "is_bot", "late")} == {
        "event_id": "e-1", "page": "/cart", "status": 503, "session_hint": "s-9", "referrer": None,
        "is_bot": False, "late": False}
    assert second["event_time"] == datetime(2024, 5, 1, 10, 1, 7, 250000)
    assert second["load_time_ms"] is None and second["is_bot"] is True and second["late"] is True
    assert json.loads(first["payload"])["event_id"] == "e-1"   # the record as SUPER
    assert (first["shard_id"], first["partition_key"]) == ("shardId-000000000000", "v-1")
    queries = {q.name: q.records() for q in result.queries}
    assert queries["01_page_views_by_minute"] == [{"minute": datetime(2024, 5, 1, 10, 0), "page_views": 1, "visitors": 1}]
    assert queries["02_server_errors_by_page"] == [{"page": "/cart", "server_errors": 1, "page_views": 1,
                                                   "error_share": 1.0}]
    assert queries["03_ingestion_lag"] == [{"shard_id": "shardId-000000000000", "events": 2, "max_lag_seconds": 115}]


def test_a_record_that_is_not_json_is_left_out_of_the_view():
    assert [r["event_id"] for r in run_streaming_view(["not json", clean(3)]).rows] == ["e-3"]


def test_the_view_runs_on_duckdb_without_redshift_only_syntax():
    sql = events_view_sql()
    assert "AUTO REFRESH" not in sql.upper() and "FROM_VARBYTE" in sql.upper()
