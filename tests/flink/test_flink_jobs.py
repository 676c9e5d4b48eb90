"""The Flink SQL jobs (jobs/flink): statements rendered by main.py, and run on local PyFlink.

The tests marked `flink` run the real queries on PyFlink 1.20 in streaming mode, with the
filesystem tables of local/ in place of Kinesis, and assert the exact windows Flink emits
for small hand-written inputs: records out of order inside the 10 s watermark bound count
in their own windows, a record behind an emitted window is dropped (and still alerts).
The others need no JVM.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from refarch.local.flink_sql import (
    FLINK_JOBS,
    FlinkReportMismatch,
    FlinkRunReport,
    generate_clickstream,
    load_entry,
    run_flink_job,
    watermark_bound_seconds,
)

main = load_entry()
flink = pytest.mark.flink

CLOUD_PROPERTIES = {
    "clickstream": {
        "aws.region": "eu-west-1",
        "source.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/clickstream",
        "sink.pageviews.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/page-views",
        "sink.errorrate.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/error-rate",
        "sink.sessions.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/sessions",
        "sink.alerts.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/alerts"},
}
LOCAL_PROPERTIES = {"source.path": "/tmp/in", "output.path": "/tmp/out"}
SQL_FILES = sorted(FLINK_JOBS.glob("*/*/*.sql"))


def render(job: str, mode: str = "cloud", **overrides: str) -> tuple[list[str], list[str]]:
    properties = (CLOUD_PROPERTIES[job] if mode == "cloud" else LOCAL_PROPERTIES) | overrides
    return main.render_statements(FLINK_JOBS / job, mode, properties)


def created_tables(ddl: list[str]) -> list[str]:
    return [re.match(r"CREATE\s+(?:TABLE|VIEW)\s+(\w+)", s, re.IGNORECASE).group(1) for s in ddl]


# --- render_statements: pure, no JVM --------------------------------------------------

@pytest.mark.parametrize("job", sorted(CLOUD_PROPERTIES))
def test_cloud_statements_have_every_placeholder_filled_from_runtime_properties(job):
    ddl, inserts = render(job)
    assert not [s for s in ddl + inserts if "${" in s]
    source = ddl[0]
    assert "'connector' = 'kinesis'" in source
    assert f"'stream.arn' = '{CLOUD_PROPERTIES[job]['source.stream.arn']}'" in source
    assert "'aws.region' = 'eu-west-1'" in source
    assert "'source.init.position' = 'LATEST'" in source   # the ${NAME:-default} default


def test_a_property_overrides_a_placeholder_default():
    ddl, _ = render("clickstream", **{"source.init.position": "TRIM_HORIZON"})
    assert "'source.init.position' = 'TRIM_HORIZON'" in ddl[0]


def test_every_sink_table_reads_its_own_stream_property():
    ddl, _ = render("clickstream")
    sinks = {name: s for name, s in zip(created_tables(ddl), ddl) if name != "clickstream_events"}
    assert "arn:aws:kinesis:eu-west-1:111122223333:stream/alerts" in sinks["server_error_alerts"]
    assert "stream/page-views" in sinks["page_views_per_minute"]
    assert len({re.search(r"'stream.arn' = '([^']+)'", s).group(1) for s in ddl if "stream.arn" in s}) == 5


def test_a_missing_property_raises_naming_the_property_its_placeholder_and_file():
    properties = dict(CLOUD_PROPERTIES["clickstream"])
    del properties["sink.alerts.stream.arn"]
    with pytest.raises(main.JobConfigurationError) as raised:
        main.render_statements(FLINK_JOBS / "clickstream", "cloud", properties)
    message = str(raised.value)
    assert "'sink.alerts.stream.arn'" in message
    assert "${SINK_ALERTS_STREAM_ARN}" in message
    assert "clickstream/cloud/05_sink_server_error_alerts.sql" in message
    assert "refarch.job" in message


def test_local_statements_need_only_the_two_paths():
    with pytest.raises(main.JobConfigurationError, match=r"'output\.path'"):
        main.render_statements(FLINK_JOBS / "clickstream", "local", {"source.path": "/tmp/in"})
    ddl, _ = render("clickstream", "local")
    assert "'path' = '/tmp/in'" in ddl[0] and "'path' = '/tmp/out/page_views_per_minute'" in ddl[1]


def test_a_property_value_with_a_quote_is_refused():
    with pytest.raises(main.JobConfigurationError, match="aws.region"):
        render("clickstream", **{"aws.region": "eu-west-1' , 'x' = 'y"})


def test_an_unknown_mode_is_refused():
    with pytest.raises(main.JobConfigurationError, match="mode='test'"):
        main.render_statements(FLINK_JOBS / "clickstream", "test", {})


@pytest.mark.parametrize("job", sorted(CLOUD_PROPERTIES))
@pytest.mark.parametrize("mode", ["cloud", "local"])
def test_ddl_and_inserts_are_split_by_folder_in_file_order(job, mode):
    ddl, inserts = render(job, mode)
    job_dir = FLINK_JOBS / job
    assert len(ddl) == len(list((job_dir / mode).glob("*.sql"))) + len(list((job_dir / "views").glob("*.sql")))
    assert all(s.upper().startswith("CREATE TABLE") for s in ddl[:-1]) and ddl[-1].upper().startswith("CREATE VIEW")
    assert len(inserts) == len(list((job_dir / "queries").glob("*.sql")))
    assert all(s.upper().startswith("INSERT INTO") for s in inserts)
    sinks = [re.match(r"INSERT INTO (\w+)", s).group(1) for s in inserts]
    assert set(sinks) <= set(created_tables(ddl))


@pytest.mark.parametrize("job", sorted(CLOUD_PROPERTIES))
def test_cloud_and_local_create_the_same_tables_and_views(job):
    assert created_tables(render(job, "cloud")[0]) == created_tables(render(job, "local")[0])


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: str(p.relative_to(FLINK_JOBS)))
def test_every_sql_file_holds_exactly_one_statement(path):
    assert len(main.split_statements(path.read_text())) == 1


def test_statement_splitting_ignores_semicolons_in_comments_and_literals(tmp_path):
    text = "-- a comment; with a semicolon\nSELECT 'a;b' /* ; */ FROM `t;`;\n\n"
    assert main.split_statements(text) == ["SELECT 'a;b'   FROM `t;`"]
    two = tmp_path / "two.sql"
    two.write_text("CREATE TABLE a (x INT);\nCREATE TABLE b (x INT);")
    with pytest.raises(main.JobConfigurationError, match="holds 2 statements"):
        main.read_statement(two, "CREATE")


def test_a_query_file_must_hold_an_insert(tmp_path):
    wrong = tmp_path / "q.sql"
    wrong.write_text("SELECT 1")
    with pytest.raises(main.JobConfigurationError, match="must hold a INSERT"):
        main.read_statement(wrong, "INSERT")


@pytest.mark.parametrize("job", sorted(CLOUD_PROPERTIES))
@pytest.mark.parametrize("mode", ["cloud", "local"])
def test_every_source_tolerates_ten_seconds_of_disorder(job, mode):
    assert watermark_bound_seconds(render(job, mode)[0]) == 10


def test_properties_are_read_from_the_managed_flink_properties_file(tmp_path):
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps([
        {"PropertyGroupId": "kinesis.analytics.flink.run.options",
         "PropertyMap": {"python": "main.py", "jarfile": "lib/flink-sql-connector-kinesis-5.0.0-1.20.jar"}},
        {"PropertyGroupId": "refarch.job", "PropertyMap": {"aws.region": "eu-west-1", "job.name": "adtech"}}]))
    assert main.read_properties(path) == {"aws.region": "eu-west-1", "job.name": "adtech"}
    with pytest.raises(main.JobConfigurationError, match="no property group 'other'"):
        main.read_properties(path, "other")


def test_the_job_folder_is_found_beside_main_py_as_in_the_application_zip(tmp_path):
    with pytest.raises(main.JobConfigurationError, match="2 job folders"):
        main.find_job_dir(FLINK_JOBS)
    assert main.find_job_dir(FLINK_JOBS, "adtech") == FLINK_JOBS / "adtech"
    (tmp_path / "clickstream" / "queries").mkdir(parents=True)
    (tmp_path / "lib").mkdir()
    assert main.find_job_dir(tmp_path) == tmp_path / "clickstream"
    with pytest.raises(main.JobConfigurationError, match="job.name='nope'"):
        main.find_job_dir(tmp_path, "nope")


def test_property_keys_and_placeholders_map_one_to_one():
    for key in ("source.stream.arn", "sink.pageviews.stream.arn", "aws.region"):
        assert main.property_key(main.placeholder_name(key)) == key
    assert main.placeholder_name("sink.ctr.stream.arn") == "SINK_CTR_STREAM_ARN"


# --- the generators and the report: pure ---------------------------------------------

def test_the_generator_writes_a_late_record_after_the_watermark_has_passed_it():
    events = generate_clickstream(60, seed=3)
    assert len(events) == 60 and events == generate_clickstream(60, seed=3)
    times = [e["event_time"] for e in events]
    late = next(i for i, e in enumerate(events) if e["status"] == 503 and e["page"] == "/checkout"
                and any(t > e["event_time"] for t in times[:i]))
    newest_before = max(t for t in times[:late] if t[0].isdigit())
    behind = datetime.fromisoformat(newest_before[:-1]) - datetime.fromisoformat(times[late][:-1])
    assert behind.total_seconds() >= 45 * 60
    assert sum(1 for t in times if not t[0].isdigit()) == 1   # one malformed event time


def test_a_report_whose_rows_differ_from_the_model_raises():
    window = {"window_start": datetime(2024, 5, 1, 10, tzinfo=UTC),
              "window_end": datetime(2024, 5, 1, 10, 1, tzinfo=UTC), "page": "/", "page_views": 2}
    with pytest.raises(FlinkReportMismatch, match="page_views_per_minute"):
        FlinkRunReport(job="clickstream", records_in=3, skipped=0, out_of_order=0, late=1,
                       watermark_bound_s=10, rows={"page_views_per_minute": [window | {"page_views": 3}]},
                       expected={"page_views_per_minute": [window]}, counts={})


def test_run_flink_job_refuses_an_unknown_job_or_size_before_starting_flink():
    with pytest.raises(ValueError, match="job='nope'"):
        run_flink_job("nope")
    with pytest.raises(ValueError, match="size=5"):
        run_flink_job("clickstream", size=5)


# --- the jobs on PyFlink ---------------------------------------------------------------

def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2024-05-01T{clock}").replace(tzinfo=UTC)


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def click(visitor: str, page: str, status: int, clock: str) -> dict:
    return {"visitor_id": visitor, "page": page, "status": status, "event_time": f"2024-05-01T{clock}Z"}


# In file order. Watermark = newest event time so far - 10 s.
CLICKS = [
    click("v1", "/home", 200, "10:00:05"),
    click("v1", "/cart", 200, "10:00:20.250"),
    click("v2", "/home", 503, "10:00:40"),
    click("v2", "/home", 200, "10:01:02"),
    click("v1", "/home", 200, "10:00:58"),    # out of order: 4 s behind, watermark 10:00:52
    click("v3", "/cart", 500, "10:01:30"),
    {"visitor_id": "v4", "page": "/home", "status": 200, "event_time": "yesterday"},   # malformed
    click("v1", "/cart", 200, "10:02:10"),
    click("v2", "/home", 200, "10:03:45"),
    click("v3", "/home", 502, "10:04:30"),
    click("v1", "/home", 200, "10:40:00"),
    click("v2", "/cart", 200, "10:41:00"),
    click("v3", "/home", 500, "10:02:30"),    # late: watermark 10:40:50, all its windows emitted
    click("v1", "/cart", 200, "10:45:00"),
]


@pytest.fixture(scope="module")
def clicks_run(flink_env, tmp_path_factory) -> FlinkRunReport:
    return run_flink_job("clickstream", CLICKS, table_env=flink_env,
                         workdir=tmp_path_factory.mktemp("clickstream"))


@flink
def test_clickstream_counts_in_and_skips_what_the_event_times_say(clicks_run):
    assert (clicks_run.records_in, clicks_run.skipped, clicks_run.out_of_order, clicks_run.late) == (14, 1, 1, 1)
    assert clicks_run.summary()[-1].endswith("yes")


@flink
def test_page_views_per_page_per_minute(clicks_run):
    views = [(hhmm(r["window_start"]), hhmm(r["window_end"]), r["page"], r["page_views"])
             for r in clicks_run.rows["page_views_per_minute"]]
    assert views == [
        ("10:00", "10:01", "/cart", 1),
        ("10:00", "10:01", "/home", 3),   # includes the record 4 s out of order
        ("10:01", "10:02", "/cart", 1),
        ("10:01", "10:02", "/home", 1),
        ("10:02", "10:03", "/cart", 1),   # the late /home record at 10:02:30 is dropped
        ("10:03", "10:04", "/home", 1),
        ("10:04", "10:05", "/home", 1),
        ("10:40", "10:41", "/home", 1),
        ("10:41", "10:42", "/cart", 1),
        ("10:45", "10:46", "/cart", 1),
    ]


@flink
def test_error_rate_over_five_minutes_every_minute(clicks_run):
    rates = [(hhmm(r["window_start"]), hhmm(r["window_end"]), r["error_count"], r["request_count"], r["error_rate"])
             for r in clicks_run.rows["error_rate_5m"]]
    assert rates[:9] == [
        ("09:56", "10:01", 1, 4, 0.25),
        ("09:57", "10:02", 2, 6, 2 / 6),
        ("09:58", "10:03", 2, 7, 2 / 7),   # not 3 of 8: the late 5xx at 10:02:30 is dropped
        ("09:59", "10:04", 2, 8, 0.25),
        ("10:00", "10:05", 3, 9, 3 / 9),
        ("10:01", "10:06", 2, 5, 0.4),
        ("10:02", "10:07", 1, 3, 1 / 3),
        ("10:03", "10:08", 1, 2, 0.5),
        ("10:04", "10:09", 1, 1, 1.0),
    ]
    assert [(start, n) for start, _, errors, n, _ in rates[9:]] == [
        ("10:36", 1), ("10:37", 2), ("10:38", 2), ("10:39", 2), ("10:40", 2),
        ("10:41", 2), ("10:42", 1), ("10:43", 1), ("10:44", 1), ("10:45", 1)]
    assert sum(n for *_, n, _ in rates) == 5 * 12   # every counted record in 5 windows


@flink
def test_sessions_per_visitor_close_after_thirty_idle_minutes(clicks_run):
    sessions = [(r["visitor_id"], r["session_start"], r["session_end"], r["page_views"])
                for r in clicks_run.rows["visitor_sessions"]]
    assert sessions == [
        ("v1", at("10:00:05"), at("10:32:10"), 4),
        ("v1", at("10:40:00"), at("11:15:00"), 2),
        ("v2", at("10:00:40"), at("10:33:45"), 3),
        ("v2", at("10:41:00"), at("11:11:00"), 1),
        ("v3", at("10:01:30"), at("10:34:30"), 2),   # the late 10:02:30 click did not join
    ]


@flink
def test_every_5xx_is_forwarded_to_alerts_even_when_too_late_for_the_windows(clicks_run):
    alerts = [(r["visitor_id"], r["page"], r["status"], r["event_time"]) for r in clicks_run.rows["server_error_alerts"]]
    assert alerts == [
        ("v2", "/home", 503, at("10:00:40")),
        ("v3", "/cart", 500, at("10:01:30")),
        ("v3", "/home", 500, at("10:02:30")),
        ("v3", "/home", 502, at("10:04:30")),
    ]


@flink
def test_a_click_too_late_for_its_minute_still_joins_its_visitors_open_session(flink_env):
    steady = [click("v1", "/a", 200, f"10:{m}0:00") for m in range(6)]   # every 10 min, 10:00-10:50
    events = steady + [click("v1", "/b", 200, "10:05:00"),                # late: watermark 10:49:50
                       click("v2", "/a", 200, "10:55:00")]
    report = run_flink_job("clickstream", events, table_env=flink_env)
    assert report.late == 1
    assert "/b" not in {r["page"] for r in report.rows["page_views_per_minute"]}
    assert [(r["visitor_id"], r["session_start"], r["session_end"], r["page_views"])
            for r in report.rows["visitor_sessions"]] == [
        ("v1", at("10:00:00"), at("11:20:00"), 7),   # still open at 10:49:50, so the late click joins
        ("v2", at("10:55:00"), at("11:25:00"), 1)]


@flink
@pytest.mark.parametrize("job", ["clickstream"])
def test_a_seeded_generated_run_matches_the_event_time_model(job, flink_env):
    report = run_flink_job(job, size=120, seed=3, table_env=flink_env)   # raises if it does not
    assert (report.records_in, report.skipped, report.late) == (120, 1, 1)
    assert report.out_of_order > 0
    assert all(rows for rows in report.rows.values())
    assert report.summary()[0].startswith(f"{job} job: records in")


@flink
@pytest.mark.parametrize("job", ["clickstream"])
def test_cloud_and_local_tables_have_the_same_schema_and_watermark(job, flink_env):
    # Creating and describing a table needs no connector jar; planning the views over a
    # Kinesis table would (so the views are left out: they are shared by both modes anyway).
    schemas = {}
    for mode in ("cloud", "local"):
        tables = [s for s in render(job, mode)[0] if s.upper().startswith("CREATE TABLE")]
        database = f"schema_{job}_{mode}"
        flink_env.execute_sql(f"CREATE DATABASE {database}")
        flink_env.use_database(database)
        try:
            for statement in tables:
                flink_env.execute_sql(statement)
            schemas[mode] = {name: [tuple(row) for row in flink_env.execute_sql(f"DESCRIBE {name}").collect()]
                             for name in created_tables(tables)}
        finally:
            flink_env.use_database("default_database")
            flink_env.execute_sql(f"DROP DATABASE {database} CASCADE")
    assert schemas["cloud"] == schemas["local"]
    source = schemas["local"][created_tables(render(job, "local")[0])[0]]
    assert ("event_rowtime", "TIMESTAMP_LTZ(3) *ROWTIME*", True, None,
            "AS COALESCE(`event_time`, TO_TIMESTAMP_LTZ(0, 3))", "`event_rowtime` - INTERVAL '10' SECOND") in source
