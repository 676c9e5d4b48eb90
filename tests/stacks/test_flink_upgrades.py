"""Flink applications restart after a code update, even when a query change drops state (item 5)."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from refarch.constructs.flink_application import FlinkSqlApplication
from refarch.paths import FLINK_CONNECTOR_JAR, FLINK_ROOT


def applications(template: dict) -> list[dict]:
    return [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::KinesisAnalyticsV2::Application"]


def test_an_update_resumes_from_the_latest_snapshot_and_drops_unclaimed_state(synthesis):
    apps = [app for stack in synthesis.stacks for app in applications(synthesis.template(stack))]
    assert apps   # StreamingLogAnalytics' and AdTech's
    for app in apps:
        assert app["RunConfiguration"] == {
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
            "FlinkRunConfiguration": {"AllowNonRestoredState": True}}
        assert app["ApplicationConfiguration"]["ApplicationSnapshotConfiguration"] == {"SnapshotsEnabled": True}


def test_the_first_start_of_every_application_skips_restoring_since_there_is_no_snapshot_yet(synthesis):
    started = 0
    for stack in synthesis.stacks:
        resources = synthesis.template(stack)["Resources"]
        starts = [r["Properties"] for r in resources.values()
                  if r["Type"] == "Custom::AWS" and "StartApplication" in str(r["Properties"]["Create"])]
        assert len(starts) == len(applications(synthesis.template(stack))), stack   # one starter each
        assert all('"ApplicationRestoreType":"SKIP_RESTORE_FROM_SNAPSHOT"' in str(s["Create"]) for s in starts), stack
        started += len(starts)
    assert started


@pytest.mark.synth
def test_an_unknown_restore_type_is_refused():
    stack = Stack(App(), "Flink", env=Environment(account="123456789012", region="us-east-1"))
    key = kms.Key(stack, "Key")
    stream = kinesis.Stream(stack, "In")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[ec2.SubnetConfiguration(
        name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    with pytest.raises(ValueError, match="restore='RESTORE_FROM_CUSTOM_SNAPSHOT': allowed"):
        FlinkSqlApplication(stack, "Job", entry_point=FLINK_ROOT / "main.py", job_folder=FLINK_ROOT / "adtech",
                            source=stream, sinks={"ctr": stream}, key=key, vpc=vpc, log_retention_days=7,
                            removal_policy=None, connector_jar=FLINK_CONNECTOR_JAR,
                            checkpoint_interval=Duration.minutes(1), restore="RESTORE_FROM_CUSTOM_SNAPSHOT")


@pytest.mark.synth
def test_two_jobs_share_the_starter_provider_s_log_group_and_leave_others_children_alone(tmp_path):
    # The starters run on aws-cdk-lib's one AwsCustomResource function per stack; its log group is a
    # singleton of its own, so a stack child that other code named CustomResourceLogs is not taken for it.
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Flink", env=Environment(account="123456789012", region="us-east-1"))
    sqs.Queue(stack, "CustomResourceLogs")
    key, stream = kms.Key(stack, "Key"), kinesis.Stream(stack, "In")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, availability_zones=["us-east-1a"], subnet_configuration=[
        ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    for job in ("adtech", "streaming_log"):
        FlinkSqlApplication(stack, job, entry_point=FLINK_ROOT / "main.py", job_folder=FLINK_ROOT / job,
                            source=stream, sinks={"out": stream}, key=key, vpc=vpc, log_retention_days=7,
                            removal_policy=RemovalPolicy.DESTROY, connector_jar=FLINK_CONNECTOR_JAR)
    resources = Template.from_stack(stack).to_json()["Resources"]
    (provider,) = [r["Properties"] for k, r in resources.items()
                   if k.startswith("AWS679f") and r["Type"] == "AWS::Lambda::Function"]
    group = provider["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup" and "KmsKeyId" in resources[group]["Properties"]
    assert len([r for r in resources.values() if r["Type"] == "Custom::AWS"]) == 2
    assert [r["Type"] for k, r in resources.items() if k.startswith("CustomResourceLogs")] == ["AWS::SQS::Queue"]
