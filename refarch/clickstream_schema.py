"""The clickstream event, declared once: every consumer of the event reads its shape from here.

A website posts events to the collection API; the API's JSON-schema model, the Flink job's
validation and DDL, the lake's Glue table, the OpenSearch index mapping and the Redshift
view's typed columns are all derived from `FIELDS` (and `DERIVED_FIELDS`, the flags the
Flink job adds). The Flink SQL that depends on the schema is generated into jobs/flink/
by `write_flink_sql()` (`python -m refarch.clickstream_schema`); a test fails when the
committed files are stale, and another holds every derived form equal to this one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.paths import JOBS_ROOT

STRING, INTEGER, TIMESTAMP, BOOLEAN = "string", "integer", "timestamp", "boolean"
# Letters, digits and . _ : - ; what analytics tags and UUIDs use, and safe in any index key.
ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# What a browser's Date.toISOString() writes (milliseconds optional): UTC with a trailing Z.
EVENT_TIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,3})?Z$"
# A URL path as location.pathname gives it: percent-encoded, so printable ASCII without spaces.
PAGE_PATTERN = "^/[!-~]{0,2047}$"
# User agents that announce themselves as automated: kept in the lake, left out of the metrics.
BOT_PATTERN = "(?i)(bot|crawler|spider|slurp|headless|python-requests|curl/)"
INTEGER_PATTERN = "^-?[0-9]{1,10}$"
# The watermark bound of the job's source (producer buffering, retries, clock skew).
WATERMARK_SECONDS = 10


@dataclass(frozen=True)
class Field:
    name: str
    kind: str                       # STRING, INTEGER, TIMESTAMP or BOOLEAN
    required: bool
    description: str
    pattern: str | None = None
    max_length: int | None = None   # characters
    minimum: int | None = None
    maximum: int | None = None
    ascii_only: bool = False        # the pattern admits ASCII only (Redshift VARCHAR counts bytes)


FIELDS: tuple[Field, ...] = (
    Field("event_id", STRING, True, "unique per event; a retried post re-sends the same id",
          ID_PATTERN, 64, ascii_only=True),
    Field("visitor_id", STRING, True, "the visitor's first-party id (cookie)", ID_PATTERN, 64, ascii_only=True),
    Field("session_hint", STRING, False, "the tracker's own session id, if it keeps one",
          ID_PATTERN, 64, ascii_only=True),
    Field("page", STRING, True, "the URL path viewed", PAGE_PATTERN, 2048, ascii_only=True),
    Field("referrer", STRING, False, "document.referrer", None, 2048),
    Field("user_agent", STRING, False, "navigator.userAgent", None, 512),
    Field("status", INTEGER, True, "HTTP status of the page", minimum=100, maximum=599),
    Field("load_time_ms", INTEGER, False, "page load time", minimum=0, maximum=600_000),
    Field("event_time", TIMESTAMP, True, "when the page was viewed, ISO-8601 UTC",
          EVENT_TIME_PATTERN, 24, ascii_only=True),
)
# Added by the Flink job to every clean event.
DERIVED_FIELDS: tuple[Field, ...] = (
    Field("is_bot", BOOLEAN, True, "the user agent announces a bot; left out of the metrics"),
    Field("late", BOOLEAN, True, "arrived behind the watermark: counted in the lake, too late for "
                                 "the windows it belongs to if they had closed"),
)
CLEAN_FIELDS = FIELDS + DERIVED_FIELDS
FIELD_NAMES = tuple(f.name for f in FIELDS)
MAX_BATCH = 500   # Kinesis PutRecords takes at most 500 records


def field(name: str) -> Field:
    return next(f for f in CLEAN_FIELDS if f.name == name)


# --- the API model (JSON Schema draft 4, what API Gateway validates) ------------------

def event_schema() -> dict[str, Any]:
    """One event: the declared fields, nothing else."""
    properties = {}
    for f in FIELDS:
        prop: dict[str, Any] = {"type": "integer" if f.kind == INTEGER else "string", "description": f.description}
        if f.pattern:
            prop["pattern"] = f.pattern
        if f.max_length is not None:
            prop["maxLength"] = f.max_length
        if f.kind == STRING and f.required:
            prop["minLength"] = 1
        if f.minimum is not None:
            prop["minimum"] = f.minimum
        if f.maximum is not None:
            prop["maximum"] = f.maximum
        properties[f.name] = prop
    return {"type": "object", "properties": properties, "required": [f.name for f in FIELDS if f.required],
            "additionalProperties": False}


def request_schema(batch_max: int = MAX_BATCH) -> dict[str, Any]:
    """A post to the collection API: {"events": [event, ...]}, 1 to batch_max events."""
    if not 1 <= batch_max <= MAX_BATCH:
        raise ValueError(f"batch_max={batch_max!r}: allowed 1 to {MAX_BATCH} (PutRecords' limit)")
    return {"$schema": "http://json-schema.org/draft-04/schema#", "title": "ClickstreamBatch",
            "type": "object", "required": ["events"], "additionalProperties": False,
            "properties": {"events": {"type": "array", "minItems": 1, "maxItems": batch_max,
                                      "items": event_schema()}}}


# --- the lake, the search index and the warehouse -------------------------------------

_GLUE = {STRING: "string", INTEGER: "int", TIMESTAMP: "timestamp", BOOLEAN: "boolean"}
# Firehose delivers what Flink writes: timestamps in SQL form, UTC ('2024-05-01 10:00:05.123').
OPENSEARCH_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss.SSS||yyyy-MM-dd HH:mm:ss||strict_date_optional_time"


def glue_columns() -> tuple[tuple[str, str], ...]:
    """The clean events' Glue (Parquet) columns."""
    return tuple((f.name, _GLUE[f.kind]) for f in CLEAN_FIELDS)


def opensearch_mapping() -> dict[str, Any]:
    """Explicit mapping of the clean events; a document with another field is rejected."""
    def mapped(f: Field) -> dict[str, Any]:
        if f.kind == STRING:
            return {"type": "keyword", "ignore_above": f.max_length or 256}
        if f.kind == INTEGER:
            return {"type": "integer"}
        if f.kind == TIMESTAMP:
            return {"type": "date", "format": OPENSEARCH_DATE_FORMAT}
        return {"type": "boolean"}
    return {"dynamic": "strict", "properties": {f.name: mapped(f) for f in CLEAN_FIELDS}}


def redshift_type(f: Field) -> str:
    if f.kind == STRING:
        return f"VARCHAR({f.max_length * (1 if f.ascii_only else 4)})"   # VARCHAR counts bytes
    return {INTEGER: "INTEGER", TIMESTAMP: "TIMESTAMP", BOOLEAN: "BOOLEAN"}[f.kind]


def redshift_columns() -> tuple[tuple[str, str], ...]:
    return tuple((f.name, redshift_type(f)) for f in CLEAN_FIELDS)


# --- the Flink SQL ---------------------------------------------------------------------

_FLINK = {STRING: "STRING", INTEGER: "INT", TIMESTAMP: "TIMESTAMP(3)", BOOLEAN: "BOOLEAN"}
FLINK_JOB = JOBS_ROOT / "flink" / "streaming_log"
GENERATED = "-- Generated from refarch/clickstream_schema.py: edit the schema, then run\n" \
            "-- `python -m refarch.clickstream_schema` (a test fails when this file is stale).\n"


def flink_columns() -> tuple[tuple[str, str], ...]:
    return tuple((f.name, _FLINK[f.kind]) for f in CLEAN_FIELDS)


def _value(name: str) -> str:
    return f"JSON_VALUE(payload, '$.{name}')"


def _parsed_time() -> str:
    """The event time, or NULL. TO_TIMESTAMP is lenient (2024-02-30 becomes 2024-02-29), so the
    parsed time must also print back as the text it came from."""
    raw = _value("event_time")
    parsed = f"TO_TIMESTAMP(REPLACE(REPLACE({raw}, 'T', ' '), 'Z', ''))"
    return (f"CASE WHEN REGEXP({raw}, '{EVENT_TIME_PATTERN}')\n"
            f"    AND DATE_FORMAT({parsed}, 'yyyy-MM-dd''T''HH:mm:ss') = SUBSTRING({raw}, 1, 19)\n"
            f"    THEN {parsed} END")


def _source() -> str:
    where = "the events stream (one JSON event per Kinesis record, as the collection API puts them)"
    return (f"{GENERATED}-- Source: {where}, read as raw text so that a record the job cannot parse still\n"
            "-- reaches the dead letters whole. Watermark bound "
            f"{WATERMARK_SECONDS} s (producer buffering, retries, clock\n"
            "-- skew); the idle-source timeout (property source.idle.timeout, set by main.py) keeps a\n"
            "-- quiet shard from holding every window back.\n"
            "CREATE TABLE click_records (\n"
            "  payload STRING,\n"
            "  -- NULL unless event_time is ISO-8601 UTC with a trailing Z and a real calendar time.\n"
            f"  event_time AS {_parsed_time()},\n"
            "  -- The time attribute: the watermark generator fails the job on a NULL rowtime, so a record\n"
            "  -- without a usable event_time gets 1970-01-01, which never moves the watermark.\n"
            f"  event_rowtime AS COALESCE({_parsed_time()},\n    TIMESTAMP '1970-01-01 00:00:00'),\n"
            "  -- Arrival order: de-duplication keeps the first copy to arrive.\n"
            "  arrival AS PROCTIME(),\n"
            f"  WATERMARK FOR event_rowtime AS event_rowtime - INTERVAL '{WATERMARK_SECONDS}' SECOND\n"
            ") WITH (\n  'connector' = 'kinesis',\n  'stream.arn' = '${SOURCE_STREAM_ARN}',\n"
            "  'aws.region' = '${AWS_REGION}',\n"
            "  'source.init.position' = '${SOURCE_INIT_POSITION:-LATEST}',\n  'format' = 'raw'\n)\n")


def _clean_sink() -> str:
    columns = ",\n".join(f"  {name} {kind}" for name, kind in flink_columns())
    where = ("the clean-events Kinesis stream, which the lake's and the search index's Firehose\n"
             "-- streams and Redshift's streaming ingestion read")
    return (f"{GENERATED}-- Sink: every valid event once, typed, with the job's flags, to {where}.\n"
            "-- Timestamps in SQL form, UTC: what Firehose's Parquet conversion, the index mapping and\n"
            "-- Redshift's casts read.\n"
            f"CREATE TABLE clean_events (\n{columns}\n) WITH (\n"
            "  'connector' = 'kinesis',\n  'stream.arn' = '${SINK_CLEAN_STREAM_ARN}',\n"
            "  'aws.region' = '${AWS_REGION}',\n  'format' = 'json',\n  'json.timestamp-format.standard' = 'SQL'\n)\n")


def _reason_cases() -> list[str]:
    cases = ["WHEN payload IS NOT JSON OBJECT THEN 'invalid_json'"]
    cases += [f"WHEN {_value(f.name)} IS NULL THEN 'missing:{f.name}'" for f in FIELDS if f.required]
    for f in FIELDS:
        value = _value(f.name)
        if f.kind == INTEGER:
            # A JSON integer: JSON_VALUE gives its digits; 200.5 or 2e2 is not one (TRY_CAST would take it)
            number = f"TRY_CAST({value} AS INT)"
            cases.append(f"WHEN {value} IS NOT NULL AND (NOT REGEXP({value}, '{INTEGER_PATTERN}') OR {number} IS NULL"
                         f" OR {number} NOT BETWEEN {f.minimum} AND {f.maximum}) THEN 'invalid:{f.name}'")
            continue
        checks = []
        if f.required:
            checks.append(f"{value} = ''")
        if f.max_length is not None:
            checks.append(f"CHAR_LENGTH({value}) > {f.max_length}")
        if f.pattern:
            checks.append(f"NOT REGEXP({value}, '{f.pattern}')")
        if checks:
            cases.append(f"WHEN {' OR '.join(checks)} THEN 'invalid:{f.name}'")
    cases.append("WHEN event_time IS NULL THEN 'invalid:event_time'")
    return cases


def _checked_view() -> str:
    reasons = "\n    ".join(_reason_cases())
    fields = []
    for f in FIELDS:
        if f.kind == TIMESTAMP:
            continue
        value = _value(f.name)
        fields.append(f"TRY_CAST({value} AS INT) AS {f.name}" if f.kind == INTEGER else f"{value} AS {f.name}")
    listed = ",\n  ".join(fields)
    return (f"{GENERATED}"
            "-- Every record with its fields and, when the job cannot use it, the reason (NULL when valid):\n"
            "--   invalid_json       not a JSON object\n"
            "--   missing:<field>    a required field absent (or not a scalar)\n"
            "--   invalid:<field>    outside the API model's pattern, length or range\n"
            "--   invalid:event_time matches the pattern but is no calendar time (2024-02-30...)\n"
            "-- The same rules as the collection API's model, for records that reach the stream another\n"
            "-- way (a server-side producer) and for what a pattern cannot check. Also flagged, not\n"
            "-- rejected: is_bot (the user agent says so) and late (behind the watermark on arrival,\n"
            "-- checked here, right after the watermark is assigned).\n"
            "CREATE VIEW clicks_checked AS\n"
            "SELECT\n"
            "  payload,\n"
            f"  {listed},\n"
            "  event_time AS parsed_time,\n"
            "  event_rowtime AS event_time,\n"
            "  arrival,\n"
            f"  COALESCE(REGEXP({_value('user_agent')}, '{BOT_PATTERN}'), FALSE) AS is_bot,\n"
            "  COALESCE(event_rowtime < CURRENT_WATERMARK(event_rowtime), FALSE) AS late,\n"
            f"  CASE\n    {reasons}\n  END AS reason\n"
            "FROM click_records\n")


def flink_sql_files() -> dict[Path, str]:
    """The job's schema-derived SQL files and their content (a local run derives its tables
    from cloud/, see jobs/flink/main.py)."""
    return {
        FLINK_JOB / "cloud" / "01_source_click_records.sql": _source(),
        FLINK_JOB / "cloud" / "02_sink_clean_events.sql": _clean_sink(),
        FLINK_JOB / "views" / "01_clicks_checked.sql": _checked_view(),
    }


def write_flink_sql() -> list[Path]:
    written = []
    for path, text in flink_sql_files().items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


# --- the job's other sinks, as the lake's Glue tables see them --------------------------
# (jobs/flink/streaming_log/cloud/04_sink_click_windows.sql and 03_sink_dead_letters.sql; a test
# holds the SQL and these equal)
WINDOW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("window_kind", "string"), ("window_start", "timestamp"), ("window_end", "timestamp"),
    ("page", "string"), ("visitor_id", "string"), ("page_views", "bigint"), ("error_count", "bigint"),
    ("request_count", "bigint"), ("error_rate", "double"))
DEAD_LETTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reason", "string"), ("payload", "string"), ("event_time", "timestamp"), ("received_at", "timestamp"))
WINDOW_KINDS = ("page_views_1m", "error_rate_5m", "visitor_session")


if __name__ == "__main__":
    for written_path in write_flink_sql():
        print(f"wrote {written_path}")
    sys.exit(0)
