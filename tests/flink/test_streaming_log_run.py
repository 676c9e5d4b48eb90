"""The StreamingLogAnalytics local run (what `make demo` prints), small: seeded posts through the
edge, the job on PyFlink and every sink; the report checks its own counts and raises if they
do not add up, so the assertions here pin the figures of this seed."""

from __future__ import annotations

import pytest

from refarch.local.reports.streaming_log import StreamingLogMismatch, StreamingLogReport
from refarch.local.streaming_log import run_streaming_log

pytestmark = pytest.mark.flink


@pytest.fixture(scope="module")
def report(flink_env) -> StreamingLogReport:
    return run_streaming_log(60, seed=4, table_env=flink_env)


def test_every_posted_event_is_accounted_for(report):
    assert report.posted == sum(report.refused_at_edge.values()) + report.accepted
    assert sum(report.refused_at_edge.values()) == 5
    assert report.accepted + report.direct == report.clean + sum(report.dead_letters.values()) + report.duplicates
    assert report.duplicates == report.expected.duplicates > 0


def test_the_dead_letters_carry_the_reasons_generated(report):
    assert report.dead_letters == report.expected.expected_dead
    assert set(report.dead_letters) == {"invalid:event_time", "invalid:page", "invalid:status", "invalid_json",
                                        "missing:event_id"}


def test_every_sink_holds_every_clean_event(report):
    assert report.lake_rows["clickstream_events"] == report.search_documents == report.warehouse_rows == report.clean
    assert report.search_problems == [] and report.warehouse_matches_lake
    assert report.late == 2 and report.page_views_counted == report.clean - report.bots - report.late_humans


def test_the_named_queries_ran_on_the_lake_and_the_warehouse(report):
    names = [q.name for q in report.queries]
    assert names[:6] == ["01_page_views_by_hour", "02_top_pages", "03_error_rate_peaks", "04_sessions_per_day",
                         "05_dead_letters_by_reason", "06_late_and_bot_events"]
    late = next(q for q in report.queries if q.name == "06_late_and_bot_events").records()
    assert sum(r["late_events"] for r in late) == 2 and sum(r["events"] for r in late) == report.clean


def test_a_report_that_does_not_add_up_refuses_to_exist(report):
    fields = {name: getattr(report, name) for name in report.__dataclass_fields__}
    with pytest.raises(StreamingLogMismatch, match="lake rows"):
        StreamingLogReport(**{**fields, "lake_rows": {**report.lake_rows, "clickstream_events": report.clean - 1}})
