"""RedshiftWarehouse: what the synthesized template promises.

Names are read from where they are defined (the cluster, the lake's template, the setup's
users) rather than restated; node type, handler, timeout and the exact alarm list stay in
the snapshot.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from refarch.config import SettingError, settings_from_context
from refarch.constructs.warehouse_setup import setup_sql_hash
from refarch.patterns import BASELINE
from refarch.paths import SQL_ROOT


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("RedshiftWarehouse"))


@pytest.fixture(scope="module")
def lake(synthesis) -> dict:
    """What the warehouse reads from BatchDataLake: its curated bucket, database and ETL job."""
    template = synthesis.template("BatchDataLake")
    (job,) = [r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    outputs = template["Outputs"]
    return {"curated": outputs["CuratedBucketName"]["Value"], "database": outputs["DatabaseName"]["Value"],
            "job": job}


def cluster(template: Template) -> dict:
    (resource,) = template.find_resources("AWS::Redshift::Cluster").values()
    return resource["Properties"]


def setup_resource(template: Template) -> dict:
    (resource,) = template.find_resources("Custom::RedshiftWarehouseSetup").values()
    return resource


def loader_user(template: Template) -> str:
    """The database user the setup creates for the loader."""
    return setup_resource(template)["Properties"]["Warehouse"]["LOADER_USER"]


def test_cluster_is_encrypted_with_the_baseline_key_and_not_public(template):
    props = cluster(template)
    assert props["Encrypted"] is True
    assert props["KmsKeyId"]["Fn::ImportValue"].startswith("refarch-dev-SecurityBaseline:ExportsOutputRefDataKey")
    assert props["PubliclyAccessible"] is False
    assert props["EnhancedVpcRouting"] is True


def baseline_subnets(synthesis) -> dict[str, str]:
    """The baseline's (isolated) subnets: export name -> CIDR block."""
    baseline = synthesis.template(BASELINE)
    subnets = {k: r["Properties"]["CidrBlock"] for k, r in baseline["Resources"].items()
               if r["Type"] == "AWS::EC2::Subnet"}
    return {o["Export"]["Name"]: subnets[o["Value"]["Ref"]] for o in baseline["Outputs"].values()
            if "Export" in o and o["Value"].get("Ref") in subnets}


def test_cluster_sits_in_the_baseline_isolated_subnets(synthesis, template):
    (group,) = template.find_resources("AWS::Redshift::ClusterSubnetGroup").values()
    subnets = {s["Fn::ImportValue"] for s in group["Properties"]["SubnetIds"]}
    assert subnets and subnets == set(baseline_subnets(synthesis))


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
    # the groups Redshift writes each export to, made first so they are encrypted and expire
    assert names == [f"/aws/redshift/cluster/{props['ClusterIdentifier']}/{log}"
                     for log in props["LoggingProperties"]["LogExports"]]


def test_admin_credentials_are_generated_into_secrets_manager(template):
    props = cluster(template)
    assert props["ManageMasterPassword"] is True
    assert "MasterUserPassword" not in props
    assert props["MasterUsername"] != "awsuser"


def role_statements(template: Template, prefix: str) -> list[dict]:
    (policy,) = [p for k, p in template.find_resources("AWS::IAM::Policy").items() if k.startswith(prefix)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def actions(statements: list[dict]) -> list[str]:
    return [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]


def credentials_for(statements: list[dict]) -> list[str]:
    """The resources GetClusterCredentials is allowed on, without the arn:aws:redshift:<region>:<account>: prefix."""
    (credentials,) = [s for s in statements if s["Action"] == "redshift:GetClusterCredentials"]
    prefix = "arn:aws:redshift:us-east-1:123456789012:"
    assert all(r.startswith(prefix) for r in credentials["Resource"])
    return sorted(r.removeprefix(prefix) for r in credentials["Resource"])


def credentials_of(template: Template, user: str) -> list[str]:
    """Data API credentials for `user` on the warehouse's database, and nothing else."""
    props = cluster(template)
    return [f"dbname:{props['ClusterIdentifier']}/{props['DBName']}", f"dbuser:{props['ClusterIdentifier']}/{user}"]


def test_the_loader_gets_credentials_for_its_own_database_user_only(template):
    statements = role_statements(template, "LoaderRoleDefaultPolicy")
    admin = cluster(template)["MasterUsername"]
    assert loader_user(template) != admin
    assert credentials_for(statements) == credentials_of(template, loader_user(template))
    assert not any(admin in json.dumps(s) for s in statements)       # no admin credentials at all
    assert not any(a.startswith("secretsmanager:") for a in actions(statements))


def test_the_loader_may_only_submit_its_load_batch_and_wait_for_it(template):
    data_api = sorted(a for a in actions(role_statements(template, "LoaderRoleDefaultPolicy"))
                      if a.startswith("redshift-data:"))
    assert data_api == ["redshift-data:BatchExecuteStatement", "redshift-data:CancelStatement",
                        "redshift-data:DescribeStatement"]


def test_the_setup_function_gets_credentials_for_the_admin_only(template):
    statements = role_statements(template, "SetupFunctionRoleDefaultPolicy")
    assert credentials_for(statements) == credentials_of(template, cluster(template)["MasterUsername"])
    assert sorted(a for a in actions(statements) if a.startswith("redshift-data:")) == [
        "redshift-data:CancelStatement", "redshift-data:DescribeStatement", "redshift-data:ExecuteStatement",
        "redshift-data:GetStatementResult"]    # one statement at a time; it reads its guards' rows
    assert not any(a.startswith(("secretsmanager:", "s3:")) for a in actions(statements))


def setup_lambda(template: Template) -> dict:
    (function,) = [f["Properties"] for k, f in template.find_resources("AWS::Lambda::Function").items()
                   if k.startswith("SetupFunction")]
    return function


def test_the_setup_function_runs_the_setup_sql_as_the_admin(template):
    env = setup_lambda(template)["Environment"]["Variables"]
    props = cluster(template)
    assert {k: env[k] for k in ("CLUSTER_ID", "DATABASE", "DB_USER")} == {
        "CLUSTER_ID": props["ClusterIdentifier"], "DATABASE": props["DBName"], "DB_USER": props["MasterUsername"]}


def test_the_setup_creates_the_user_the_loader_runs_as_and_points_spectrum_at_the_lake(template, lake):
    warehouse = setup_resource(template)["Properties"]["Warehouse"]
    assert warehouse["LOADER_USER"] == loader_lambda(template)["Environment"]["Variables"]["DB_USER"]
    assert warehouse["LAKE_DATABASE"] == lake["database"]


def test_the_setup_runs_at_deploy_once_the_cluster_exists_and_again_when_its_sql_changes(template):
    resource = setup_resource(template)
    props = resource["Properties"]
    lake_role = props["Warehouse"]["COPY_ROLE_ARN"]["Fn::GetAtt"]
    assert lake_role[0].startswith("LakeReaderRole") and props["Warehouse"]["SPECTRUM_ROLE_ARN"]["Fn::GetAtt"] == lake_role
    assert props["SqlHash"] == setup_sql_hash(SQL_ROOT / "redshift")
    assert any(d.startswith("WarehouseCluster") for d in resource["DependsOn"])


def test_the_setup_sql_hash_follows_every_setup_file(tmp_path):
    (tmp_path / "setup").mkdir()
    (tmp_path / "setup" / "01_a.sql").write_text("CREATE SCHEMA IF NOT EXISTS a;")
    first = setup_sql_hash(tmp_path)
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "20_b.sql").write_text("DELETE FROM a.t;")
    assert setup_sql_hash(tmp_path) == first                     # the load is not the setup's
    (tmp_path / "setup" / "02_b.sql").write_text("GRANT USAGE ON SCHEMA a TO u;")
    assert setup_sql_hash(tmp_path) != first


def test_no_load_is_triggered_before_the_setup_ran(template):
    (setup,) = template.find_resources("Custom::RedshiftWarehouseSetup")
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert setup in rule["DependsOn"]


def test_security_group_admits_sql_from_the_isolated_subnets_only(synthesis, template):
    groups = [g["Properties"] for k, g in template.find_resources("AWS::EC2::SecurityGroup").items()
              if k.startswith("WarehouseSecurityGroup")]
    (group,) = groups
    ingress = group["SecurityGroupIngress"]
    port = cluster(template)["Port"]
    assert ingress and all((rule["FromPort"], rule["ToPort"]) == (port, port) for rule in ingress)
    assert sorted(rule["CidrIp"] for rule in ingress) == sorted(baseline_subnets(synthesis).values())


def test_copy_role_is_scoped_to_the_curated_prefixes_and_the_lake_database(template, lake):
    curated, database = lake["curated"], lake["database"]
    policy = next(p for k, p in template.find_resources("AWS::IAM::Policy").items() if k.startswith("LakeReader"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    reads = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert sorted(reads["Resource"]) == [f"arn:aws:s3:::{curated}/_quality/{lake['job']}/*",
                                        f"arn:aws:s3:::{curated}/trades/*",           # COPY reads a run's manifest,
                                        f"arn:aws:s3:::{curated}/trades_rejected/*"]  # then the files it lists
    glue = next(s for s in statements if "glue:GetTable" in s["Action"])
    assert sorted(glue["Resource"]) == ["arn:aws:glue:us-east-1:123456789012:catalog",
                                       f"arn:aws:glue:us-east-1:123456789012:database/{database}",
                                       f"arn:aws:glue:us-east-1:123456789012:table/{database}/*"]
    assert not any(a.startswith(("s3:Put", "s3:Delete", "glue:Create", "glue:Update"))
                   for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_the_lake_and_streaming_ingestion_roles_are_attached_to_the_cluster(template):
    lake, streaming = cluster(template)["IamRoles"]
    assert lake["Fn::GetAtt"][0].startswith("LakeReaderRole")
    # streaming ingestion's role: each stack whose stream it reads grants it that stream (none here)
    assert streaming["Fn::GetAtt"][0].startswith("StreamingIngestion")
    assert not [p for p in template.find_resources("AWS::IAM::Policy").values()
                if {"Ref": streaming["Fn::GetAtt"][0]} in p["Properties"].get("Roles", [])]


def loader_lambda(template: Template) -> dict:
    (function,) = [f["Properties"] for k, f in template.find_resources("AWS::Lambda::Function").items()
                   if k.startswith("LoaderFunction")]
    return function


def test_the_loader_loads_the_lakes_curated_bucket_into_this_cluster(template, lake):
    env = loader_lambda(template)["Environment"]["Variables"]
    assert env["CLUSTER_ID"] == cluster(template)["ClusterIdentifier"]
    assert env["CURATED_BUCKET"] == lake["curated"]
    assert not {"LAKE_DATABASE", "SPECTRUM_ROLE_ARN"} & set(env)     # the setup's, not the load's


def test_loads_start_when_the_lakes_etl_job_has_succeeded_not_at_a_fixed_hour(template, lake):
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.glue"], "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [lake["job"]], "state": ["SUCCEEDED"]}}


def test_loads_run_one_at_a_time(template):
    assert loader_lambda(template)["ReservedConcurrentExecutions"] == 1


def test_loader_failures_reach_alarms(template):
    # A failed run ends in the failure queue, whether EventBridge or the async invoke gave up.
    (config,) = template.find_resources("AWS::Lambda::EventInvokeConfig").values()
    queue = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}
    # Which metrics each part alarms on is the constructs' business (and the snapshot's).
    alarms = template.find_resources("AWS::CloudWatch::Alarm").values()
    watched = json.dumps([a["Properties"]["Dimensions"] for a in alarms])
    (loader_id,) = [k for k in template.find_resources("AWS::Lambda::Function") if k.startswith("LoaderFunction")]
    for part in (queue, loader_id, cluster(template)["ClusterIdentifier"]):
        assert f'"{part}"' in watched, part


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


def test_the_loader_reads_only_the_etl_runs_manifests_to_know_what_to_copy(template, lake):
    curated = lake["curated"]
    prefix = f"_quality/{lake['job']}/"
    assert loader_lambda(template)["Environment"]["Variables"]["LOAD_MANIFEST_PREFIX"] == prefix
    policy = next(p for k, p in template.find_resources("AWS::IAM::Policy").items() if k.startswith("LoaderRole"))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    s3 = [s for s in statements if any(a.startswith("s3:") for a in
                                        ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]
    assert s3 == [
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": f"arn:aws:s3:::{curated}/{prefix}*"},
        {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": f"arn:aws:s3:::{curated}",
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}}]


def test_the_loader_user_must_be_a_user_name_other_than_the_admin():
    from aws_cdk import App, RemovalPolicy, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    from refarch.constructs.warehouse import Warehouse
    from refarch.constructs.warehouse_setup import WarehouseSetup
    from refarch.paths import LAMBDA_ROOT

    stack = Stack(App(), "S")
    vpc = ec2.Vpc(stack, "Vpc", subnet_configuration=[ec2.SubnetConfiguration(
        name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    key = kms.Key(stack, "Key")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("redshift.amazonaws.com"))
    warehouse = Warehouse(stack, "W", vpc=vpc, key=key, node_type="ra3.xlplus", nodes=1, database="analytics",
                          roles=[role], client_cidrs=[], port=5439, snapshot_retention_days=1, log_retention_days=1,
                          removal_policy=RemovalPolicy.DESTROY)
    for user in ("refarch_admin", "Loader", "loader; drop"):
        with pytest.raises(ValueError, match=rf"WarehouseSetup loader_user='{user}': allowed a Redshift user name"):
            WarehouseSetup(stack, f"Setup{len(user)}", warehouse=warehouse, source=LAMBDA_ROOT / "redshift_loader",
                           sql_folder=SQL_ROOT / "redshift", copy_role=role, spectrum_role=role, lake_database="d",
                           key=key, vpc=vpc, log_retention_days=1, removal_policy=RemovalPolicy.DESTROY,
                           powertools_layer_version="3.37.0", loader_user=user)
    with pytest.raises(ValueError, match=r"data_api_statements db_user='Admin': allowed a Redshift user name"):
        warehouse.data_api_statements(db_user="Admin", submit=["ExecuteStatement"])
    with pytest.raises(ValueError, match=r"data_api_statements submit=\['GetStatementResult'\]: allowed"):
        warehouse.data_api_statements(db_user="loader", submit=["GetStatementResult"])


def test_the_loader_arn_stays_exported_for_stacks_deployed_before_the_setup_function(template):
    # A deployed StreamingLogAnalytics of the previous release imports it; removing it would fail the update.
    outputs = template.to_json()["Outputs"]
    (loader_export,) = [o for o in outputs.values()
                        if o.get("Export", {}).get("Name") == "refarch-dev-RedshiftWarehouse-LoaderFunctionArn"]
    (loader_id,) = [k for k in template.find_resources("AWS::Lambda::Function") if k.startswith("LoaderFunction")]
    assert loader_export["Value"] == {"Fn::GetAtt": [loader_id, "Arn"]}


def test_the_setup_function_runs_one_setup_at_a_time(template):
    (setup_id,) = [k for k in template.find_resources("AWS::Lambda::Function") if k.startswith("SetupFunction")]
    assert template.to_json()["Resources"][setup_id]["Properties"]["ReservedConcurrentExecutions"] == 1


@pytest.mark.parametrize("name", ["refarch_admin", "etl$1", "Loader", "1loader", ""])
def test_a_loader_user_the_setup_could_not_use_fails_at_synth_naming_the_argument(name, tmp_path):
    from aws_cdk import App, RemovalPolicy, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    from refarch.constructs.warehouse import Warehouse
    from refarch.constructs.warehouse_setup import WarehouseSetup

    stack = Stack(App(outdir=str(tmp_path)), "Warehouse")
    vpc = ec2.Vpc(stack, "Vpc", subnet_configuration=[ec2.SubnetConfiguration(
        name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    key = kms.Key(stack, "Key")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("redshift.amazonaws.com"))
    warehouse = Warehouse(stack, "Warehouse", vpc=vpc, key=key, node_type="ra3.large", nodes=1, database="dev",
                          roles=[role], client_cidrs=["10.0.0.0/16"], port=5439, snapshot_retention_days=7,
                          log_retention_days=30, removal_policy=RemovalPolicy.DESTROY)
    with pytest.raises(ValueError, match=r"^WarehouseSetup loader_user="):
        WarehouseSetup(stack, "Setup", warehouse=warehouse, source=tmp_path, sql_folder=SQL_ROOT / "redshift",
                       copy_role=role, spectrum_role=role, lake_database="lake", key=key, vpc=vpc,
                       log_retention_days=30, removal_policy=RemovalPolicy.DESTROY, powertools_layer_version="3.37.0",
                       loader_user=name)
