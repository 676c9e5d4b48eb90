"""The StreamingLogAnalytics Flink job (jobs/flink/streaming_log) on local PyFlink, on small
hand-written input, with the exact rows each sink must hold. One run for the session (a job
costs seconds), shared by the assertions; the JVM is the session's (tests/flink/conftest.py)."""

from __future__ import annotations

import json

import pytest

from refarch.local.streaming_log_job import SINKS, run_job, sink_columns
from refarch import clickstream_schema as schema

pytestmark = pytest.mark.flink


def event(n: int, time: str, **fields) -> str:
    return json.dumps({"event_id": f"e-{n}", "visitor_id": fields.pop("visitor", "v1"), "page": fields.pop("page", "/"),
                       "status": fields.pop("status", 200), "event_time": time, **fields})


RECORDS = [
    event(1, "2024-05-01T10:00:05.000Z"),
    event(1, "2024-05-01T10:00:05.000Z"),                       # a copy: dropped
    event(2, "2024-05-01T10:00:30.000Z", status=503, page="/cart"),
    event(3, "2024-05-01T10:00:26.000Z", visitor="v2"),         # 4 s out of order: counted
    event(4, "2024-05-01T10:00:40.000Z", user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"),  # a bot
    "not json",
    event(5, "2024-02-30T10:00:00.000Z"),                       # no such day
    event(6, "2024-05-01T10:00:41.000Z", status=200.5),         # not an integer
    event(7, "2024-05-01T10:00:42.000Z", page="cart"),          # not a path
    json.dumps({"event_id": "e-8", "page": "/", "status": 200, "event_time": "2024-05-01T10:00:43.000Z"}),
    event(9, "2024-05-01T10:07:00.000Z", visitor="v2", status=500),
    event(10, "2024-05-01T10:00:50.000Z", status=502),          # 6 min behind: late, still an alert
    event(11, "2024-05-01T10:45:00.000Z", visitor="v2"),
]


@pytest.fixture(scope="module")
def output(flink_env):
    return run_job(RECORDS, table_env=flink_env)


def test_every_rejected_record_is_a_dead_letter_with_its_reason(output):
    dead = sorted((r["reason"], r["payload"]) for r in output.rows["dead_letters"])
    assert [reason for reason, _ in dead] == ["invalid:event_time", "invalid:page", "invalid:status",
                                              "invalid_json", "missing:visitor_id"]
    assert ("invalid_json", "not json") in dead
    assert all(r["received_at"] for r in output.rows["dead_letters"])


def test_copies_are_dropped_and_each_clean_event_is_flagged(output):
    clean = {r["event_id"]: r for r in output.rows["clean_events"]}
    assert sorted(clean) == ["e-1", "e-10", "e-11", "e-2", "e-3", "e-4", "e-9"]
    assert [k for k, r in clean.items() if r["late"]] == ["e-10"]
    assert [k for k, r in clean.items() if r["is_bot"]] == ["e-4"]
    assert clean["e-1"]["event_time"] == "2024-05-01 10:00:05" and clean["e-1"]["session_hint"] is None
    assert set(clean["e-1"]) == set(schema.FIELD_NAMES) | {"is_bot", "late"}


def test_page_views_per_minute_count_people_on_time(output):
    rows = [(r["window_start"], r["page"], r["page_views"]) for r in output.windows("page_views_1m")]
    assert rows == [("2024-05-01 10:00:00", "/", 2), ("2024-05-01 10:00:00", "/cart", 1),
                    ("2024-05-01 10:07:00", "/", 1), ("2024-05-01 10:45:00", "/", 1)]


def test_the_5xx_rate_slides_over_5_minutes_every_minute(output):
    rows = {r["window_start"]: (r["error_count"], r["request_count"]) for r in output.windows("error_rate_5m")}
    # e-1, e-2 (503), e-3 in the five windows holding 10:00; e-9 (500) at 10:07; e-11 at 10:45
    assert rows == {**{f"2024-05-01 09:5{m}:00": (1, 3) for m in range(6, 10)}, "2024-05-01 10:00:00": (1, 3),
                    **{f"2024-05-01 10:0{m}:00": (1, 1) for m in range(3, 8)},
                    **{f"2024-05-01 10:4{m}:00": (0, 1) for m in range(1, 6)}}
    assert len(rows) == 15


def test_sessions_close_after_30_minutes_without_a_view(output):
    rows = [(r["visitor_id"], r["window_start"], r["window_end"], r["page_views"])
            for r in output.windows("visitor_session")]
    # e-10 is late for its minute, but v1's session is still open when it arrives: it joins it
    assert sorted(rows) == [("v1", "2024-05-01 10:00:05", "2024-05-01 10:30:50", 3),
                            ("v2", "2024-05-01 10:00:26", "2024-05-01 10:37:00", 2),
                            ("v2", "2024-05-01 10:45:00", "2024-05-01 11:15:00", 1)]


def test_every_unique_5xx_raises_an_alert_late_ones_too(output):
    assert sorted(r["event_id"] for r in output.rows["server_error_alerts"]) == ["e-10", "e-2", "e-9"]


def test_each_sink_table_has_the_columns_the_lake_and_index_expect():
    assert sink_columns("clean_events") == list(schema.flink_columns())
    flink_to_glue = {"STRING": "string", "TIMESTAMP(3)": "timestamp", "BIGINT": "bigint", "DOUBLE": "double"}
    assert [(n, flink_to_glue[t]) for n, t in sink_columns("click_windows")] == list(schema.WINDOW_COLUMNS)
    assert [(n, flink_to_glue[t]) for n, t in sink_columns("dead_letters")] == list(schema.DEAD_LETTER_COLUMNS)
    assert set(SINKS) == {"clean_events", "dead_letters", "click_windows", "server_error_alerts"}
