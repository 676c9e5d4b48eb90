"""The ad-tech Flink SQL job (jobs/flink/adtech) on local PyFlink: validation to dead letters,
click de-duplication, attribution by interval join, CTR per placement and ad over sliding windows.

The PyFlink tests share the session's table environment (tests/flink/conftest.py) and one run
of the hand-written events below; the model tests need no JVM.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from refarch.local.adtech_job import OutsideTheModel, expected_output, run_adtech_job
from refarch.local.flink_sql import FLINK_JOBS, load_entry, watermark_bound_seconds

main = load_entry()
flink = pytest.mark.flink
ATTRIBUTION = 5   # minutes
CLOUD = {"aws.region": "eu-west-1", "attribution.minutes": "5",
         "source.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/ad-events",
         "sink.ctr.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/ctr",
         "sink.deadletters.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/dead-letters"}


def event(kind: str, impression: str, placement: str, ad: str, clock: str) -> dict:
    return {"event_type": kind, "impression_id": impression, "placement_id": placement, "ad_id": ad,
            "event_time": f"2024-05-01T{clock}Z"}


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2024-05-01T{clock}").replace(tzinfo=UTC)


# In arrival order. Watermark = newest event time so far - 10 s.
EVENTS = [
    event("impression", "i1", "home", "ad-a", "12:00:10"),
    event("impression", "i2", "home", "ad-b", "12:00:20.500"),
    event("click", "i1", "home", "ad-a", "12:00:25"),
    event("click", "i1", "home", "ad-a", "12:00:25"),          # re-sent click: a duplicate
    event("impression", "i1", "home", "ad-a", "12:00:10"),     # re-sent impression: a duplicate
    event("click", "ghost", "home", "ad-b", "12:00:30"),       # names no impression: unattributed
    event("click", "i2", "home", "ad-b", "12:00:28"),          # 2 s out of order: still counted
    event("click", "i1", "home", "ad-a", "12:00:40"),          # second click on i1: a duplicate
    event("impression", "i4", "side", "ad-a", "12:01:00"),
    event("click", "i4", "side", "ad-b", "12:01:05"),          # claims ad-b: credited to i4's ad-a
    "not json",
    '{"event_type": "hover", "impression_id": "x", "placement_id": "home", "ad_id": "ad-a", "event_time": "2024-05-01T12:00:40Z"}',
    '{"event_type": "click", "placement_id": "home", "ad_id": "ad-a", "event_time": "2024-05-01T12:00:41Z"}',
    '{"event_type": "click", "impression_id": "i2", "placement_id": "home page", "ad_id": "ad-a", "event_time": "2024-05-01T12:00:42Z"}',
    '{"event_type": "impression", "impression_id": "i9", "placement_id": "home", "ad_id": "ad-a", "event_time": "2024-05-01 12:00:43"}',
    event("impression", "i3", "home", "ad-a", "12:20:00"),
    event("click", "i2", "home", "ad-b", "12:01:30"),          # late: 18 min behind the watermark
    event("click", "i5", "home", "ad-a", "12:21:00"),          # names an impression that comes later
    event("impression", "i5", "home", "ad-a", "12:21:05"),     # 5 s after its click: no credit
    event("click", "i3", "home", "ad-a", "12:26:30"),          # 6.5 min after i3: past the window
]


@pytest.fixture(scope="module")
def run(flink_env):
    return run_adtech_job(EVENTS, attribution_minutes=ATTRIBUTION, table_env=flink_env)


def windows(run, placement: str, ad: str) -> list[tuple]:
    return [(r["window_start"].strftime("%H:%M"), r["impressions"], r["clicks"], r["unattributed_clicks"], r["ctr"])
            for r in run.ctr_rows if (r["placement_id"], r["ad_id"]) == (placement, ad)]


@flink
def test_every_record_is_a_dead_letter_a_duplicate_or_counted(run):
    assert run.records_in == len(EVENTS) == 20
    assert run.counts == {"dead_letters": 6, "impressions": 5, "impression_duplicates": 1, "clicks": 3,
                          "unattributed_clicks": 3, "click_duplicates": 2}


@flink
def test_dead_letters_carry_the_record_and_the_reason(run):
    assert run.dead_letter_reasons == {"invalid:event_time": 1, "invalid:event_type": 1, "invalid:placement_id": 1,
                                       "invalid_json": 1, "late": 1, "missing:impression_id": 1}
    late = next(d for d in run.dead_letters if d["reason"] == "late")
    assert json.loads(late["payload"]) == EVENTS[16]
    assert late["event_time"] == "2024-05-01T12:01:30"
    assert next(d for d in run.dead_letters if d["reason"] == "invalid_json")["payload"] == "not json"


@flink
def test_attributed_clicks_once_per_impression_and_unattributed_counted_apart(run):
    every_window = [f"11:{m}" for m in (56, 57, 58, 59)] + ["12:00"]
    assert windows(run, "home", "ad-a") == [(m, 1, 1, 0, 1.0) for m in every_window] + [
        ("12:16", 1, 0, 0, 0.0),     # i3
        ("12:17", 2, 0, 1, 0.0), ("12:18", 2, 0, 1, 0.0), ("12:19", 2, 0, 1, 0.0),
        ("12:20", 2, 0, 1, 0.0),     # i3, i5, and the click on i5 that came before i5
        ("12:21", 1, 0, 1, 0.0),     # i5; the click on i3 at 12:26:30 (past the window)
        ("12:22", 0, 0, 1, None), ("12:23", 0, 0, 1, None), ("12:24", 0, 0, 1, None), ("12:25", 0, 0, 1, None),
        ("12:26", 0, 0, 1, None)]
    assert windows(run, "home", "ad-b") == [(m, 1, 1, 1, 1.0) for m in every_window]   # the ghost click
    assert windows(run, "side", "ad-a") == [(m, 1, 1, 0, 1.0) for m in ("11:57", "11:58", "11:59", "12:00", "12:01")]
    assert windows(run, "side", "ad-b") == []   # the click's own claim is not credited


@flink
def test_rates_are_attributed_clicks_over_impressions_in_the_window(flink_env):
    events = [event("impression", f"n{i}", "home", "ad-a", f"12:00:{10 + i:02d}") for i in range(4)]
    events += [event("click", "n0", "home", "ad-a", "12:00:30"), event("click", "n2", "home", "ad-a", "12:00:31")]
    events += [event("impression", "m0", "home", "ad-a", "12:02:00")]
    run = run_adtech_job(events, attribution_minutes=ATTRIBUTION, table_env=flink_env)
    assert [(m, i, c, rate) for m, i, c, _, rate in windows(run, "home", "ad-a")] == [
        ("11:56", 4, 2, 0.5), ("11:57", 4, 2, 0.5), ("11:58", 5, 2, 0.4), ("11:59", 5, 2, 0.4),
        ("12:00", 5, 2, 0.4), ("12:01", 1, 0, 0.0), ("12:02", 1, 0, 0.0)]


@flink
def test_main_runs_the_job_from_the_command_line_with_its_properties(flink_env, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "events.txt").write_text("".join(json.dumps(e) + "\n" for e in EVENTS[:3]))
    main.main(["--local", "--job", "adtech", "--property", f"source.path={source}",
               "--property", f"output.path={tmp_path / 'out'}", "--property", "attribution.minutes=5"])
    written = [json.loads(line) for f in sorted((tmp_path / "out" / "placement_ctr").iterdir())
               if not f.name.startswith(".") for line in f.read_text().splitlines()]
    assert sorted((r["ad_id"], r["window_start"], r["impressions"], r["clicks"]) for r in written)[0] == (
        "ad-a", "2024-05-01T11:56:00", 1, 1)
    assert len(written) == 10   # ad-a and ad-b, 5 windows each


# --- rendering and the model: no JVM -------------------------------------------------

def test_cloud_statements_name_both_sinks_the_region_and_the_attribution_window():
    ddl, inserts = main.render_statements(FLINK_JOBS / "adtech", "cloud", CLOUD)
    assert not [s for s in ddl + inserts if "${" in s]
    assert "'format' = 'raw'" in ddl[0] and "stream/ad-events" in ddl[0]
    assert "stream/ctr" in ddl[1] and "PARTITIONED BY (placement_id)" in ddl[1]
    assert "stream/dead-letters" in ddl[2]
    assert sum("INTERVAL '5' MINUTE" in s for s in ddl) == 2   # the late check and the join
    assert watermark_bound_seconds(ddl) == 10
    assert [s.split()[2] for s in inserts] == ["ad_dead_letters", "placement_ctr"]


def test_the_attribution_window_is_a_required_property():
    properties = {k: v for k, v in CLOUD.items() if k != "attribution.minutes"}
    with pytest.raises(main.JobConfigurationError, match=r"'attribution\.minutes'"):
        main.render_statements(FLINK_JOBS / "adtech", "cloud", properties)


def test_the_model_refuses_a_record_it_cannot_place():
    events = [event("impression", "a", "home", "ad-a", "12:10:00"),
              event("impression", "b", "home", "ad-a", "12:08:00")]   # 1:50 behind the watermark: not late
    with pytest.raises(OutsideTheModel, match="behind the watermark"):
        expected_output([json.dumps(e) for e in events], attribution_minutes=ATTRIBUTION)


def test_a_day_past_the_months_end_is_read_as_flink_reads_it():
    text = '{"event_type": "impression", "impression_id": "a", "placement_id": "p", "ad_id": "x", ' \
           '"event_time": "2024-02-30T10:00:00Z"}'
    expected = expected_output([text], attribution_minutes=ATTRIBUTION)
    assert expected.ctr_rows[-1]["window_end"] == datetime(2024, 2, 29, 10, 5, tzinfo=UTC)


def test_run_refuses_a_bad_attribution_window_or_a_multi_line_record():
    with pytest.raises(ValueError, match="attribution_minutes=0"):
        run_adtech_job([], attribution_minutes=0)
    with pytest.raises(ValueError, match="newline"):
        run_adtech_job(["{\n}"], attribution_minutes=5)
