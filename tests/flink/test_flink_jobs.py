"""The Flink SQL jobs (jobs/flink): statements rendered by main.py, the entry point every job's
application zip runs, and the local tables it derives from the cloud DDL. Pure, no JVM: Flink's
own reading of the derived tables is in test_local_tables.py, each job's results on PyFlink in
test_adtech_job.py and test_streaming_log_job.py."""

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
JOBS = sorted(d.name for d in FLINK_JOBS.iterdir() if (d / "queries").is_dir())


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
    tables = len(list((job_dir / "cloud").glob("*.sql")))
    assert len(ddl) == tables + len(list((job_dir / "views").glob("*.sql")))
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


# --- local tables: derived from the cloud DDL ------------------------------------------

def test_the_cloud_ddl_is_the_only_declaration_of_a_jobs_tables():
    assert JOBS == ["adtech", "streaming_log"]
    for job in JOBS:
        assert sorted(p.name for p in (FLINK_JOBS / job).iterdir()) == ["cloud", "queries", "views"]


@pytest.mark.parametrize("job", JOBS)
def test_a_local_table_is_its_cloud_statement_with_only_the_connector_options_swapped(job):
    cloud = main.job_tables(FLINK_JOBS / job)
    local = [main.parse_table(statement, where) for where, statement in main.local_tables(FLINK_JOBS / job)]
    assert [t.name for t in local] == [t.table.name for t in cloud]
    for derived, original in zip(local, cloud):
        table = original.table
        assert derived.columns == table.columns   # columns, computed columns, watermark, keys as written
        assert derived.statement[:derived.options_span[0]].rstrip() == \
            table.statement[:(table.partition_span or table.options_span)[0]].rstrip()
        fmt = table.options["format"]
        assert derived.options == {
            "connector": "filesystem",
            "path": "${OUTPUT_PATH}/" + table.name if original.role == "sink" else "${SOURCE_PATH}",
            **{k: v for k, v in table.options.items() if k == "format" or k.startswith(f"{fmt}.")}}
        assert derived.partitioned_by == ()


def test_the_format_options_carry_over_and_the_kinesis_ones_do_not():
    ddl, _ = render("adtech", "local", **{"attribution.minutes": "5"})
    ctr = ddl[1]
    assert "'json.timestamp-format.standard' = 'ISO-8601'" in ctr and "'format' = 'json'" in ctr
    assert "stream.arn" not in ctr and "aws.region" not in ctr and "PARTITIONED BY" not in ctr
    assert "'path' = '/tmp/out/placement_ctr'" in ctr
    assert "'source.init.position'" not in ddl[0] and "'path' = '/tmp/in'" in ddl[0]


def test_roles_come_from_the_queries_a_table_an_insert_writes_is_a_sink():
    roles = {t.table.name: t.role for t in main.job_tables(FLINK_JOBS / "streaming_log")}
    assert roles == {"click_records": "source", "clean_events": "sink", "dead_letters": "sink",
                     "click_windows": "sink", "server_error_alerts": "sink"}


def job_folder(tmp_path, tables: dict[str, str], queries: list[str]):
    for folder, texts in (("cloud", list(tables.values())), ("queries", queries)):
        (tmp_path / "job" / folder).mkdir(parents=True)
        for n, text in enumerate(texts, 1):
            (tmp_path / "job" / folder / f"{n:02d}.sql").write_text(text)
    return tmp_path / "job"


KINESIS = "'connector' = 'kinesis', 'stream.arn' = '${{{arn}}}', 'aws.region' = 'r', 'format' = 'json'"


def test_with_several_sources_each_reads_its_own_folder(tmp_path):
    job = job_folder(tmp_path, {
        "a": f"CREATE TABLE a (x INT) WITH ({KINESIS.format(arn='A')})",
        "b": f"CREATE TABLE b (x INT) WITH ({KINESIS.format(arn='B')})",
        "out": f"CREATE TABLE `out` (x INT) WITH ({KINESIS.format(arn='C')})"},
        ["INSERT INTO `out` SELECT x FROM a UNION ALL SELECT x FROM b"])
    ddl, _ = main.render_statements(job, "local", {"source.path": "/in", "output.path": "/out"})
    assert ["'path' = '/in/a'" in ddl[0], "'path' = '/in/b'" in ddl[1], "'path' = '/out/out'" in ddl[2]] == [True] * 3


def test_the_parser_reads_quotes_qualified_names_and_clauses_it_keeps(tmp_path):
    statement = ("CREATE TEMPORARY TABLE IF NOT EXISTS cat.db.`my table` (\n  `a b` STRING COMMENT 'x, y',\n"
                 "  t AS CAST(`a b` AS INT),\n  PRIMARY KEY (`a b`) NOT ENFORCED\n) COMMENT 'it''s (one)'"
                 " PARTITIONED BY (`a b`, t) WITH ('k' = 'it''s', 'format' = 'json', 'json.x' = '1')")
    table = main.parse_table(statement, "file.sql")
    assert (table.name, table.partitioned_by) == ("my table", ("a b", "t"))
    assert table.columns == ("`a b` STRING COMMENT 'x, y'", "t AS CAST(`a b` AS INT)",
                             "PRIMARY KEY (`a b`) NOT ENFORCED")
    assert table.options == {"k": "it's", "format": "json", "json.x": "1"}
    assert table.physical_columns() == [("a b", "STRING COMMENT 'x, y'")]
    local = main.local_table(table, "/p")
    assert local.endswith(") COMMENT 'it''s (one)' WITH (\n  'connector' = 'filesystem',\n  'path' = '/p',\n"
                          "  'format' = 'json',\n  'json.x' = '1'\n)")
    assert main.parse_table(local, "local").columns == table.columns


@pytest.mark.parametrize(("statement", "message"), [
    ("CREATE TABLE t (x INT)", "table t has no WITH"),
    ("CREATE TABLE t (x INT) WITH ('a' = '1', 'a' = '2')", "option 'a' is set twice"),
    ("CREATE TABLE t (x INT) WITH ('a' '1')", "'key' = 'value' pairs in the WITH of t"),
    ("CREATE VIEW v AS SELECT 1", "expected TABLE in CREATE TABLE"),
    ("CREATE TABLE t (x INT WITH ('a' = '1')", "unbalanced parentheses"),
    ("CREATE TABLE t (x INT) WITH ('a = '1')", "unterminated"),
])
def test_ddl_the_parser_cannot_read_is_refused_naming_the_file(statement, message):
    with pytest.raises(main.JobConfigurationError, match=re.escape(message)) as raised:
        main.parse_table(statement, "job/cloud/01_t.sql")
    assert str(raised.value).startswith("job/cloud/01_t.sql: ")


def test_an_insert_names_its_target_however_qualified():
    assert main.insert_target("INSERT INTO cat.db.`sink one` SELECT 1") == "sink one"
    assert main.insert_target("insert overwrite s select 1") == "s"
    with pytest.raises(main.JobConfigurationError, match="expected INSERT INTO"):
        main.insert_target("SELECT 1", "q.sql")
