"""RedshiftWarehouse: what the synthesized template promises."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from refarch.config import SettingError, settings_from_context

CURATED = "refarch-dev-batchdatalake-curated-123456789012-us-east-1"


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("RedshiftWarehouse"))


def cluster(template: Template) -> dict:
    (resource,) = template.find_resources("AWS::Redshift::Cluster").values()
    return resource["Properties"]


def test_cluster_is_encrypted_with_the_baseline_key_and_not_public(template):
    props = cluster(template)
    assert props["Encrypted"] is True
    assert props["KmsKeyId"]["Fn::ImportValue"].startswith("refarch-dev-SecurityBaseline:ExportsOutputRefDataKey")
    assert props["PubliclyAccessible"] is False
    assert props["EnhancedVpcRouting"] is True
    assert (props["NodeType"], props["ClusterType"]) == ("ra3.xlplus", "single-node")


def test_cluster_sits_in_the_isolated_subnets(template):
    (group,) = template.find_resources("AWS::Redshift::ClusterSubnetGroup").values()
    subnets = group["Properties"]["SubnetIds"]
    assert len(subnets) == 2
    assert all("isolated" in str(s) for s in subnets)


def test_parameter_group_requires_ssl_and_logs_user_activity(template):
    (group,) = template.find_resources("AWS::Redshift::ClusterParameterGroup").values()
    params = {p["ParameterName"]: p["ParameterValue"] for p in group["Properties"]["Parameters"]}
    assert params == {"require_ssl": "true", "enable_user_activity_logging": "true"}


def test_audit_logs_go_to_encrypted_log_groups_created_first(template):
    props = cluster(template)
    assert props["LoggingProperties"] == {"LogDestinationType": "cloudwatch",
                                          "LogExports": ["connectionlog", "useractivitylog", "userlog"]}
    names = sorted(g["Properties"]["LogGroupName"] for g in template.find_resources("AWS::Logs::LogGroup").values()
                   if "redshift/cluster" in str(g["Properties"].get("LogGroupName")))
    assert names == [f"/aws/redshift/cluster/refarch-dev-redshiftwarehouse-warehouse/{log}"
                     for log in ("connectionlog", "useractivitylog", "userlog")]


def test_admin_credentials_are_generated_into_secrets_manager(template):
    props = cluster(template)
    assert props["ManageMasterPassword"] is True
    assert "MasterUserPassword" not in props
    assert props["MasterUsername"] != "awsuser"


def test_the_loader_gets_temporary_credentials_and_never_reads_the_admin_secret(template):
    policy = next(p for k, p in template.find_resources("AWS::IAM::Policy").items() if k.startswith("LoaderRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    credentials = next(s for s in statements if s["Action"] == "redshift:GetClusterCredentials")
    resources = [json.dumps(r) for r in credentials["Resource"]]
    assert len(resources) == 2
    assert any(":dbuser:refarch-dev-redshiftwarehouse-warehouse/refarch_admin" in r for r in resources)
    assert any(":dbname:refarch-dev-redshiftwarehouse-warehouse/analytics" in r for r in resources)
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not any(a.startswith("secretsmanager:") for a in actions)


def test_security_group_admits_sql_from_the_isolated_subnets_only(template):
    groups = [g["Properties"] for k, g in template.find_resources("AWS::EC2::SecurityGroup").items()
              if k.startswith("WarehouseSecurityGroup")]
    (group,) = groups
    ingress = group["SecurityGroupIngress"]
    assert len(ingress) == 2 and all(rule["FromPort"] == 5439 for rule in ingress)
    assert not any(rule.get("CidrIp") == "0.0.0.0/0" for rule in ingress)


def test_copy_role_is_scoped_to_the_curated_prefixes_and_the_lake_database(template):
    policy = next(p for k, p in template.find_resources("AWS::IAM::Policy").items() if k.startswith("LakeReader"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    reads = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert sorted(reads["Resource"]) == [f"arn:aws:s3:::{CURATED}/_quality/refarch-dev-BatchDataLake-CurateTrades/*",
                                        f"arn:aws:s3:::{CURATED}/trades/*",           # COPY reads a run's manifest,
                                        f"arn:aws:s3:::{CURATED}/trades_rejected/*"]  # then the files it lists
    glue = next(s for s in statements if "glue:GetTable" in s["Action"])
    assert sorted(glue["Resource"]) == ["arn:aws:glue:us-east-1:123456789012:catalog",
                                       "arn:aws:glue:us-east-1:123456789012:database/refarch_lake_dev",
                                       "arn:aws:glue:us-east-1:123456789012:table/refarch_lake_dev/*"]
    assert not any(a.startswith(("s3:Put", "s3:Delete", "glue:Create", "glue:Update"))
                   for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_the_lake_and_streaming_ingestion_roles_are_attached_to_the_cluster(template):
    lake, streaming = cluster(template)["IamRoles"]
    assert lake["Fn::GetAtt"][0].startswith("LakeReaderRole")
    # streaming ingestion's role: each stack whose stream it reads grants it that stream (none here)
    assert streaming["Fn::GetAtt"][0].startswith("StreamingIngestion")
    assert not [p for p in template.find_resources("AWS::IAM::Policy").values()
                if {"Ref": streaming["Fn::GetAtt"][0]} in p["Properties"].get("Roles", [])]


def test_loader_runs_the_sql_through_the_data_api_nightly(template):
    loader = next(f["Properties"] for k, f in template.find_resources("AWS::Lambda::Function").items()
                  if k.startswith("Loader"))
    env = loader["Environment"]["Variables"]
    assert env["CLUSTER_ID"] == "refarch-dev-redshiftwarehouse-warehouse"
    assert env["CURATED_BUCKET"] == CURATED
    assert env["LAKE_DATABASE"] == "refarch_lake_dev"
    assert env["DB_USER"] == "refarch_admin"
    # Loads start when the lake's ETL job has succeeded, not at a fixed hour.
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.glue"], "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": ["refarch-dev-BatchDataLake-CurateTrades"], "state": ["SUCCEEDED"]}}


def test_loads_run_one_at_a_time(template):
    loader = next(f["Properties"] for k, f in template.find_resources("AWS::Lambda::Function").items()
                  if k.startswith("Loader"))
    assert loader["ReservedConcurrentExecutions"] == 1


def test_loader_failures_reach_alarms(template):
    metrics = sorted(a["Properties"]["MetricName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values())
    assert metrics == ["CPUUtilization", "Errors", "HealthStatus", "NumberOfMessagesSent",
                       "PercentageDiskSpaceUsed"]


def test_selecting_the_warehouse_brings_the_lake_along():
    settings = settings_from_context({"patterns": "RedshiftWarehouse"}, environ={})
    assert settings.patterns == ("SecurityBaseline", "BatchDataLake", "RedshiftWarehouse")


def test_a_cron_setting_loads_on_a_schedule_instead(tmp_path):
    from refarch.synthesis import synthesize
    from tests.conftest import NO_AWS_ENV

    result = synthesize({"patterns": "RedshiftWarehouse", "warehouse_load_trigger": "cron(0 5 * * ? *)"},
                        outdir=str(tmp_path), environ=NO_AWS_ENV, gates=False)
    (rule,) = Template.from_json(result.template("RedshiftWarehouse")).find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "cron(0 5 * * ? *)"


def test_a_multi_node_type_cannot_run_as_one_node():
    with pytest.raises(SettingError, match=r"invalid setting warehouse_nodes=1: allowed 2 to 128 for ra3.4xlarge"):
        settings_from_context({"warehouse_node_type": "ra3.4xlarge"}, environ={})


def test_the_loader_reads_only_the_etl_runs_manifests_to_know_what_to_copy(template):
    loader = next(f["Properties"] for k, f in template.find_resources("AWS::Lambda::Function").items()
                  if k.startswith("LoaderFunction"))
    prefix = "_quality/refarch-dev-BatchDataLake-CurateTrades/"
    assert loader["Environment"]["Variables"]["LOAD_MANIFEST_PREFIX"] == prefix
    policy = next(p for k, p in template.find_resources("AWS::IAM::Policy").items() if k.startswith("LoaderRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in
                                        ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]
    assert s3 == [
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": f"arn:aws:s3:::{CURATED}/{prefix}*"},
        {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": f"arn:aws:s3:::{CURATED}",
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}}]
