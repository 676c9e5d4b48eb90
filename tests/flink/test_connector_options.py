"""The cloud tables' connector options against the Kinesis connector's documented options
(refarch/flink_connector_options.py), since no local run can plan the cloud DDL: every job's
tables keep to them, the deployed runtime properties fill every placeholder with values that
keep to them too, and a misspelt, missing or mis-valued option fails naming file, table and option.
"""

from __future__ import annotations

import re
import shutil

import pytest

from refarch import flink_connector
from refarch import flink_connector_options as spec
from refarch.local.flink_sql import FLINK_JOBS, flink_format_options, load_entry

main = load_entry()
JOBS = sorted(d.name for d in FLINK_JOBS.iterdir() if (d / "queries").is_dir())
FLINK_STACKS = {"adtech": "AdTech", "streaming_log": "StreamingLogAnalytics"}


@pytest.fixture(scope="module")
def format_options(flink_env):
    """The option keys of Flink's own format factories (the JVM is the session's)."""
    return flink_format_options


def edited_job(tmp_path, job: str, file: str, old: str, new: str):
    """A copy of jobs/flink/<job> with one edit in cloud/<file>."""
    copy = tmp_path / job
    shutil.copytree(FLINK_JOBS / job, copy)
    path = copy / "cloud" / file
    text = path.read_text()
    assert old in text, f"{old!r} is not in {file}"
    path.write_text(text.replace(old, new, 1))
    return copy


def problems_of(job_dir, **kwargs) -> str:
    with pytest.raises(spec.ConnectorOptionsError) as raised:
        spec.require_valid(job_dir, **kwargs)
    return str(raised.value)


# --- every job as committed ------------------------------------------------------------

@pytest.mark.flink
@pytest.mark.parametrize("job", JOBS)
def test_every_cloud_table_keeps_to_the_connectors_documented_options(job, format_options):
    assert spec.check_job(FLINK_JOBS / job, format_options=format_options) == []


def test_the_declaration_is_of_the_connector_version_the_lock_pins():
    # Bumping connector.lock means reading the new version's options: this fails until then.
    assert spec.CONNECTOR_VERSION == flink_connector.lock()["version"]


def test_the_declaration_knows_each_roles_required_keys():
    required = {role: sorted(k for k, o in spec.KINESIS.items() if o.required and role in o.roles)
                for role in ("source", "sink")}
    assert required == {"source": ["aws.region", "connector", "format", "stream.arn"],
                        "sink": ["aws.region", "connector", "format", "stream.arn"]}
    assert spec.KINESIS["source.init.position"].values == ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")


@pytest.mark.parametrize(("value", "static"), [
    ("LATEST", "LATEST"), ("${SOURCE_INIT_POSITION:-LATEST}", "LATEST"), ("${AWS_REGION}", None),
    ("arn:${X}", None), ("${X:-}", "")])
def test_a_placeholder_is_checked_by_its_default_or_left_to_runtime(value, static):
    assert spec.static_value(value) == static


def test_the_deployed_properties_fill_every_placeholder_with_values_that_keep_to_the_options(synthesis):
    for job, stack in FLINK_STACKS.items():
        template = synthesis.template(stack)
        streams = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Kinesis::Stream"}
        app = next(r["Properties"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::KinesisAnalyticsV2::Application")
        groups = {g["PropertyGroupId"]: g["PropertyMap"]
                  for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}

        def value(v):   # a stream's ARN is a reference to one of the stack's streams
            if isinstance(v, dict):
                logical, attribute = v["Fn::GetAtt"]
                assert logical in streams and attribute == "Arn", v
                return f"arn:aws:kinesis:us-east-1:123456789012:stream/{logical}"
            return v
        properties = {k: value(v) for k, v in groups["refarch.job"].items()}
        ddl, _ = main.render_statements(FLINK_JOBS / job, "cloud", properties)   # raises on a missing one
        tables = main.job_tables(FLINK_JOBS / job)
        rendered = [main.parse_table(s, t.where) for s, t in zip(ddl, tables)]
        assert [p for r, t in zip(rendered, tables) for p in spec.check_table(r, t.role, t.where)] == []
        arns = [r.options["stream.arn"] for r in rendered]
        assert len(set(arns)) == len(arns), f"{job}: two tables on one stream: {arns}"


# --- a broken option fails, naming file, table and option ------------------------------

@pytest.mark.parametrize(("job", "file", "old", "new", "expected"), [
    pytest.param("adtech", "01_source_ad_events.sql", "'source.init.position'", "'source.init.postion'",
                 "adtech/cloud/01_source_ad_events.sql: table ad_events (source): unknown option "
                 "'source.init.postion' (did you mean 'source.init.position'?)", id="misspelt"),
    pytest.param("streaming_log", "04_sink_click_windows.sql", "  'aws.region' = '${AWS_REGION}',\n", "",
                 "streaming_log/cloud/04_sink_click_windows.sql: table click_windows (sink): required option "
                 "'aws.region' is missing", id="missing-required"),
    pytest.param("streaming_log", "01_source_click_records.sql", ":-LATEST}", ":-EARLIEST}",
                 "streaming_log/cloud/01_source_click_records.sql: table click_records (source): option "
                 "'source.init.position' = 'EARLIEST': allowed LATEST, TRIM_HORIZON, AT_TIMESTAMP", id="bad-enum"),
    pytest.param("adtech", "03_sink_dead_letters.sql", "'format' = 'json'",
                 "'source.init.position' = 'LATEST', 'format' = 'json'",
                 "adtech/cloud/03_sink_dead_letters.sql: table ad_dead_letters (sink): option "
                 "'source.init.position' applies to a source table only", id="wrong-role"),
    pytest.param("adtech", "03_sink_dead_letters.sql", "'connector' = 'kinesis'", "'connector' = 'kinesis-legacy'",
                 "table ad_dead_letters (sink): option 'connector' = 'kinesis-legacy'", id="other-connector"),
    pytest.param("adtech", "02_sink_placement_ctr.sql", "'format' = 'json'",
                 "'sink.partitioner' = 'random', 'format' = 'json'",
                 "table placement_ctr (sink): option 'sink.partitioner' cannot be set on a table PARTITIONED BY "
                 "(placement_id)", id="partitioner-on-partitioned-sink"),
])
def test_a_broken_option_fails_naming_the_file_the_table_and_the_option(tmp_path, job, file, old, new, expected):
    assert expected in problems_of(edited_job(tmp_path, job, file, old, new))


def test_reading_from_a_timestamp_needs_the_timestamp(tmp_path):
    job = edited_job(tmp_path, "adtech", "01_source_ad_events.sql", ":-LATEST}", ":-AT_TIMESTAMP}")
    assert "'source.init.position' = 'AT_TIMESTAMP' needs 'source.init.timestamp'" in problems_of(job)
    fixed = edited_job(tmp_path / "fixed", "adtech", "01_source_ad_events.sql", ":-LATEST}'",
                       ":-AT_TIMESTAMP}', 'source.init.timestamp' = '2024-05-01T00:00:00.000Z'")
    assert spec.check_job(fixed) == []


@pytest.mark.flink
def test_a_misspelt_format_option_fails(tmp_path, format_options):
    job = edited_job(tmp_path, "streaming_log", "02_sink_clean_events.sql", "'json.timestamp-format.standard'",
                     "'json.timestamp-format.standrad'")
    assert spec.check_job(job) == []   # without the format's keys only the connector's are checked
    message = problems_of(job, format_options=format_options)
    assert "table clean_events (sink): unknown option 'json.timestamp-format.standrad' of format 'json' " \
           "(did you mean 'json.timestamp-format.standard'?)" in message


@pytest.mark.flink
def test_a_format_flink_does_not_have_fails(tmp_path, format_options):
    job = edited_job(tmp_path, "adtech", "01_source_ad_events.sql", "'format' = 'raw'", "'format' = 'rawr'")
    assert re.search(r"table ad_events \(source\): option 'format' = 'rawr': no such source format",
                     problems_of(job, format_options=format_options))
