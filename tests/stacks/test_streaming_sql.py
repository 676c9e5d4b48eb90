"""StreamingSqlAnalytics: the FlinkSqlApplication construct in a synthesized template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from refarch.constructs.flink_application import CONNECTOR_JAR, FlinkSqlApplication, stage_application
from refarch.constructs.stream import EncryptedStream
from refarch.flink_connector import applications_missing_the_connector
from refarch.paths import JOBS_ROOT


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("StreamingSqlAnalytics"))


def applications(template: Template) -> dict[str, dict]:
    return {k: r["Properties"] for k, r in template.find_resources("AWS::KinesisAnalyticsV2::Application").items()}


def clickstream(template: Template) -> dict:
    return next(p for k, p in applications(template).items() if k.startswith("ClickstreamJob"))


def groups(app: dict) -> dict[str, dict]:
    return {g["PropertyGroupId"]: g["PropertyMap"]
            for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}


def test_one_application_on_the_flink_1_20_runtime(template):
    apps = applications(template)
    assert len(apps) == 1   # the ad-tech job moved to the AdTech stack
    assert {a["RuntimeEnvironment"] for a in apps.values()} == {"FLINK-1_20"}


def test_code_is_the_zip_asset_and_run_options_point_at_main_and_the_jar(template):
    config = clickstream(template)["ApplicationConfiguration"]["ApplicationCodeConfiguration"]
    assert config["CodeContentType"] == "ZIPFILE"
    location = config["CodeContent"]["S3ContentLocation"]
    assert location["FileKey"].endswith(".zip")
    assert groups(clickstream(template))["kinesis.analytics.flink.run.options"] == {
        "python": "main.py", "jarfile": f"lib/{CONNECTOR_JAR}"}


def test_runtime_properties_name_the_streams_and_region(template):
    properties = groups(clickstream(template))["refarch.job"]
    assert properties["aws.region"] == "us-east-1"
    assert properties["job.name"] == "clickstream"
    assert set(properties) == {"aws.region", "job.name", "source.stream.arn", "sink.pageviews.stream.arn",
                               "sink.errorrate.stream.arn", "sink.sessions.stream.arn", "sink.alerts.stream.arn"}


def test_parallelism_autoscaling_and_checkpoints(template):
    flink = clickstream(template)["ApplicationConfiguration"]["FlinkApplicationConfiguration"]
    assert flink["ParallelismConfiguration"] == {"ConfigurationType": "CUSTOM", "Parallelism": 1,
                                                 "ParallelismPerKPU": 1, "AutoScalingEnabled": True}
    assert flink["CheckpointConfiguration"]["CheckpointingEnabled"] is True
    assert flink["CheckpointConfiguration"]["CheckpointInterval"] == 60_000


def test_application_runs_in_the_isolated_subnets(template):
    (vpc,) = clickstream(template)["ApplicationConfiguration"]["VpcConfigurations"]
    assert len(vpc["SubnetIds"]) == 2
    assert all("isolated" in json.dumps(s) for s in vpc["SubnetIds"])


def test_logging_goes_to_an_encrypted_log_group_with_retention(template):
    options = template.find_resources("AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption")
    assert len(options) == 1
    groups_ = [g for k, g in template.find_resources("AWS::Logs::LogGroup").items() if k.startswith("ClickstreamJob")]
    (group,) = groups_
    assert group["Properties"]["RetentionInDays"] == 365
    assert "Fn::ImportValue" in group["Properties"]["KmsKeyId"]


def test_role_reads_the_source_writes_the_sinks_and_uses_the_key_only(template):
    policy = next(p for k, p in template.find_resources("AWS::IAM::Policy").items()
                  if k.startswith("ClickstreamJobRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    read = next(s for s in statements if "kinesis:GetRecords" in s["Action"])
    assert read["Resource"]["Fn::GetAtt"][0].startswith("ClickEvents")
    write = next(s for s in statements if "kinesis:PutRecords" in s["Action"])
    assert len(write["Resource"]) == 4
    assert all(r["Fn::GetAtt"][0].startswith("Clickstream") for r in write["Resource"])
    kms_statement = next(s for s in statements if s["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"])
    assert "Fn::ImportValue" in kms_statement["Resource"]
    assert not any(a.startswith(("kinesis:", "kms:", "s3:")) and s["Resource"] == "*"
                   for s in statements for a in s["Action"])


def test_alarms_on_downtime_failed_checkpoints_and_source_lag(template):
    metrics = sorted(a["Properties"]["MetricName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values())
    assert metrics == ["downtime", "millisBehindLatest", "numberOfFailedCheckpoints"]


def test_staged_zip_holds_main_the_job_and_no_local_ddl(tmp_path):
    staged = stage_application(JOBS_ROOT / "flink", "adtech", tmp_path / "absent.jar")
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    assert files[0] == "adtech/cloud/01_source_ad_events.sql"
    assert "main.py" in files
    assert not any("/local/" in f or f.startswith("lib/") for f in files)


def test_staged_zip_carries_the_connector_when_present(tmp_path):
    jar = tmp_path / CONNECTOR_JAR
    jar.write_bytes(b"PK\x03\x04 not really a jar")
    staged = stage_application(JOBS_ROOT / "flink", "adtech", jar)
    assert (staged / "lib" / CONNECTOR_JAR).read_bytes() == jar.read_bytes()


def build_test_stack(jar: Path) -> Stack:
    stack = Stack(App(), "FlinkTest", env=Environment(account="123456789012", region="us-east-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, max_azs=2, subnet_configuration=[
        ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    streams = [EncryptedStream(stack, f"S{i}", key=key, shards=1).stream for i in range(2)]
    FlinkSqlApplication(stack, "Ads", jobs_root=JOBS_ROOT / "flink", job="adtech", source=streams[0],
                        sinks={"ctr": streams[1]}, key=key, vpc=vpc, log_retention_days=30,
                        removal_policy=RemovalPolicy.DESTROY, connector_jar=jar)
    return stack


def test_deploy_check_finds_an_application_without_the_jar(tmp_path):
    assert applications_missing_the_connector([build_test_stack(tmp_path / "absent.jar")]) == ["FlinkTest/Ads"]


def test_deploy_check_passes_an_application_with_the_pinned_jar(tmp_path, monkeypatch):
    import hashlib

    from refarch import flink_connector

    jar = tmp_path / CONNECTOR_JAR
    jar.write_bytes(b"jar")
    lock = tmp_path / "connector.lock"
    lock.write_text(json.dumps({**flink_connector.lock(), "sha256": hashlib.sha256(b"jar").hexdigest()}))
    monkeypatch.setattr(flink_connector, "LOCK_FILE", lock)
    assert applications_missing_the_connector([build_test_stack(jar)]) == []


def test_the_application_zip_is_a_zip_with_main_at_its_root(synthesis):
    stack = synthesis.stacks["StreamingSqlAnalytics"]
    app = stack.applications["clickstream"]
    staged = Path(app.code.asset_path) if Path(app.code.asset_path).is_absolute() else \
        Path(synthesis.assembly.directory) / app.code.asset_path
    assert (staged / "main.py").is_file() and (staged / "clickstream" / "queries").is_dir()


def test_each_application_is_started_once_when_created(template):
    starters = [r["Properties"] for r in template.find_resources("Custom::AWS").values()]
    assert len(starters) == 1
    for starter in starters:
        text = json.dumps(starter["Create"])  # the SDK call, as a JSON string with tokens joined in
        assert '\\"service\\":\\"KinesisAnalyticsV2\\"' in text and '\\"action\\":\\"StartApplication\\"' in text
        assert "SKIP_RESTORE_FROM_SNAPSHOT" in text
        assert "Delete" not in starter and "Update" not in starter


def test_the_starter_may_start_only_its_applications(template):
    policies = [p["Properties"]["PolicyDocument"]["Statement"] for k, p in template.find_resources("AWS::IAM::Policy").items()
                if "StartOnCreate" in k]
    assert len(policies) == 1
    for statements in policies:
        (statement,) = statements
        assert statement["Action"] == "kinesisanalytics:StartApplication"
        assert ":application/" in json.dumps(statement["Resource"])
