"""Flink applications restart after a code update, even when a query change drops state (item 5)."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms

from refarch.constructs.flink_application import FlinkSqlApplication
from refarch.paths import FLINK_CONNECTOR_JAR, FLINK_ROOT


def applications(template: dict) -> list[dict]:
    return [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::KinesisAnalyticsV2::Application"]


def test_an_update_resumes_from_the_latest_snapshot_and_drops_unclaimed_state(synthesis):
    apps = applications(synthesis.template("StreamingLogAnalytics")) + applications(synthesis.template("AdTech"))
    assert len(apps) == 2
    for app in apps:
        assert app["RunConfiguration"] == {
            "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
            "FlinkRunConfiguration": {"AllowNonRestoredState": True}}
        assert app["ApplicationConfiguration"]["ApplicationSnapshotConfiguration"] == {"SnapshotsEnabled": True}


def test_the_first_start_skips_restoring_since_there_is_no_snapshot_yet(synthesis):
    starts = [r["Properties"] for stack in ("StreamingLogAnalytics", "AdTech")
              for r in synthesis.template(stack)["Resources"].values() if r["Type"] == "Custom::AWS"]
    assert len(starts) == 2
    assert all('"ApplicationRestoreType":"SKIP_RESTORE_FROM_SNAPSHOT"' in str(s["Create"]) for s in starts)


@pytest.mark.synth
def test_an_unknown_restore_type_is_refused():
    stack = Stack(App(), "Flink", env=Environment(account="123456789012", region="us-east-1"))
    key = kms.Key(stack, "Key")
    stream = kinesis.Stream(stack, "In")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[ec2.SubnetConfiguration(
        name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    with pytest.raises(ValueError, match="restore='RESTORE_FROM_CUSTOM_SNAPSHOT': allowed"):
        FlinkSqlApplication(stack, "Job", entry_point=FLINK_ROOT / "main.py", job_folder=FLINK_ROOT / "adtech",
                            source=stream,
                            sinks={"ctr": stream}, key=key, vpc=vpc, log_retention_days=7,
                            removal_policy=None, connector_jar=FLINK_CONNECTOR_JAR,
                            checkpoint_interval=Duration.minutes(1), restore="RESTORE_FROM_CUSTOM_SNAPSHOT")
