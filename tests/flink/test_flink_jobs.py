"""The Flink SQL jobs (jobs/flink): statements rendered by main.py, the entry point every job's
application zip runs. Pure, no JVM: each job's own results on PyFlink are in test_adtech_job.py
and test_streaming_log_job.py."""

from __future__ import annotations

import json
import re

import pytest

from refarch.local.flink_sql import FLINK_JOBS, load_entry, watermark_bound_seconds

main = load_entry()

CLOUD_PROPERTIES = {
    "streaming_log": {
        "aws.region": "eu-west-1",
        "source.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/events",
        "sink.clean.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/clean",
        "sink.deadletters.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/dead-letters",
        "sink.windows.stream.arn": "arn:aws:kinesis:eu-west-1:111122223333:stream/windows",
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
    ddl, _ = render("streaming_log", **{"source.init.position": "TRIM_HORIZON"})
    assert "'source.init.position' = 'TRIM_HORIZON'" in ddl[0]


def test_every_sink_table_reads_its_own_stream_property():
    ddl, _ = render("streaming_log")
    sinks = {name: s for name, s in zip(created_tables(ddl), ddl) if name != "click_records"}
    assert "arn:aws:kinesis:eu-west-1:111122223333:stream/alerts" in sinks["server_error_alerts"]
    assert "stream/dead-letters" in sinks["dead_letters"] and "stream/clean" in sinks["clean_events"]
    assert len({re.search(r"'stream.arn' = '([^']+)'", s).group(1) for s in ddl if "stream.arn" in s}) == 5


def test_a_missing_property_raises_naming_the_property_its_placeholder_and_file():
    properties = dict(CLOUD_PROPERTIES["streaming_log"])
    del properties["sink.alerts.stream.arn"]
    with pytest.raises(main.JobConfigurationError) as raised:
        main.render_statements(FLINK_JOBS / "streaming_log", "cloud", properties)
    message = str(raised.value)
    assert "'sink.alerts.stream.arn'" in message
    assert "${SINK_ALERTS_STREAM_ARN}" in message
    assert "streaming_log/cloud/05_sink_server_error_alerts.sql" in message
    assert "refarch.job" in message


def test_local_statements_need_only_the_two_paths():
    with pytest.raises(main.JobConfigurationError, match=r"'output\.path'"):
        main.render_statements(FLINK_JOBS / "streaming_log", "local", {"source.path": "/tmp/in"})
    ddl, _ = render("streaming_log", "local")
    assert "'path' = '/tmp/in'" in ddl[0] and "'path' = '/tmp/out/clean_events'" in ddl[1]


def test_a_property_value_with_a_quote_is_refused():
    with pytest.raises(main.JobConfigurationError, match="aws.region"):
        render("streaming_log", **{"aws.region": "eu-west-1' , 'x' = 'y"})


def test_an_unknown_mode_is_refused():
    with pytest.raises(main.JobConfigurationError, match="mode='test'"):
        main.render_statements(FLINK_JOBS / "streaming_log", "test", {})


@pytest.mark.parametrize("job", sorted(CLOUD_PROPERTIES))
@pytest.mark.parametrize("mode", ["cloud", "local"])
def test_ddl_and_inserts_are_split_by_folder_in_file_order(job, mode):
    ddl, inserts = render(job, mode)
    job_dir = FLINK_JOBS / job
    assert len(ddl) == len(list((job_dir / mode).glob("*.sql"))) + len(list((job_dir / "views").glob("*.sql")))
    tables = len(list((job_dir / mode).glob("*.sql")))
    assert all(s.upper().startswith("CREATE TABLE") for s in ddl[:tables])
    assert all(s.upper().startswith("CREATE VIEW") for s in ddl[tables:])
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
    (tmp_path / "streaming_log" / "queries").mkdir(parents=True)
    (tmp_path / "lib").mkdir()
    assert main.find_job_dir(tmp_path) == tmp_path / "streaming_log"
    with pytest.raises(main.JobConfigurationError, match="job.name='nope'"):
        main.find_job_dir(tmp_path, "nope")


def test_property_keys_and_placeholders_map_one_to_one():
    for key in ("source.stream.arn", "sink.deadletters.stream.arn", "aws.region"):
        assert main.property_key(main.placeholder_name(key)) == key
    assert main.placeholder_name("sink.ctr.stream.arn") == "SINK_CTR_STREAM_ARN"
