"""Every construct module can be copied alone, with the helpers it imports, into a fresh CDK
app outside this repository; what it builds there is what the catalogue says, and it changes
nothing it is given (issue 16, points 1 to 3).

One session fixture copies each module into a folder of its own (its import closure within
refarch/constructs, under another package name) and synthesizes all of their minimal uses,
from docs/constructs.md, in one app run by the venv's Python with nothing of the repository
on its path (tests/construct_copy_app.py).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests import construct_copies as copies
from tests.construct_copies import CONSTRUCTS, Copy

synth = pytest.mark.synth
MODULES = copies.modules()
Template = dict[str, Any]


@pytest.fixture(scope="session")
def copied(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("construct-copies")
    sections = copies.catalogue_sections()
    made = []
    for module in MODULES:
        package = f"copied_{module}"
        copies.copy_alone(CONSTRUCTS, module, root / module, package)
        made.append(Copy(module, package, root / module,
                         copies.as_copied(copies.minimal_use(sections[module]), package)))
    return copies.run_copies(made, root / "app")


def subject(copied: dict[str, Any], module: str) -> Template:
    entry = copied["modules"][module]
    assert entry["error"] is None, f"{module} copied alone does not synthesize:\n{entry['error']}"
    return copies.template(copied, entry["subject"])


def added(copied: dict[str, Any], module: str) -> Template:
    """The resources the minimal use's last statement added (not its collaborators')."""
    before = copies.template(copied, copied["modules"][module]["reference"]).get("Resources", {})
    return {k: r for k, r in subject(copied, module).get("Resources", {}).items() if k not in before}


def of_type(resources: Template, kind: str) -> dict[str, dict]:
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def one(resources: Template, kind: str) -> dict:
    (resource,) = of_type(resources, kind).values()
    return resource["Properties"]


def statements(resources: Template) -> list[dict]:
    kinds = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    return [s for r in resources.values() if r["Type"] in kinds for s in r["Properties"]["PolicyDocument"]["Statement"]]


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def asset_files(copied: dict[str, Any], object_key: str) -> set[str]:
    folder = copied["outdir"] / f"asset.{object_key.removesuffix('.zip')}"
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def ref(resources: Template, prefix: str) -> dict:
    (logical_id,) = [k for k in resources if k.startswith(prefix)]
    return {"Ref": logical_id}


# What each module builds, read from its copy's template ------------------------------

def check_adtech_dashboard(new: Template, _) -> None:
    body = json.dumps(one(new, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in ("AWS/KinesisAnalytics", "ctr-job", "RankingsReplaced", "ConditionalCheckFailedRequests",
                   "IteratorAge", "AWS/ApiGateway"):
        assert metric in body, metric


def check_alarms(new: Template, _) -> None:
    alarm = one(new, "AWS::CloudWatch::Alarm")
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        0, "GreaterThanThreshold", "notBreaching")
    topic = ref(of_type(new, "AWS::SNS::Topic"), "Ops")
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    assert "KmsMasterKeyId" in one(new, "AWS::SNS::Topic")
    (publish,) = [s for s in one(new, "AWS::SNS::TopicPolicy")["PolicyDocument"]["Statement"]
                  if s.get("Sid") == "AllowThisAccountsAlarms"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


def check_athena(new: Template, _) -> None:
    config = one(new, "AWS::Athena::WorkGroup")["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024 ** 3
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    query = one(new, "AWS::Athena::NamedQuery")
    assert (query["Name"], query["Description"], query["Database"]) == ("count_rows", "Rows per day", "lake")
    assert "GROUP BY dt" in query["QueryString"]


def check_audit_trail(new: Template, _) -> None:
    trail = one(new, "AWS::CloudTrail::Trail")
    assert trail["IsMultiRegionTrail"] and trail["EnableLogFileValidation"] and trail["IncludeGlobalServiceEvents"]
    assert trail["KMSKeyId"] == {"Fn::GetAtt": [next(iter(of_type(new, "AWS::KMS::Key"))), "Arn"]}
    sids = {s.get("Sid") for s in one(new, "AWS::KMS::Key")["KeyPolicy"]["Statement"]}
    assert {"AllowCloudTrailToEncryptLogFiles", "AllowCloudTrailToDescribeKey"} <= sids
    (bucket,) = [b["Properties"] for b in of_type(new, "AWS::S3::Bucket").values()]
    assert bucket["LifecycleConfiguration"]["Rules"][1]["Transitions"] == [
        {"StorageClass": "GLACIER", "TransitionInDays": 90}]


def check_buckets(new: Template, copied: dict[str, Any]) -> None:
    bucket = one(new, "AWS::S3::Bucket")
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": "AccessLogs8B620ECA"},
                                              "LogFilePrefix": f"{copied['modules']['buckets']['subject']}/Data/"}
    denies = [s for s in one(new, "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {json.dumps(s["Condition"], sort_keys=True) for s in denies} >= {
        json.dumps({"Bool": {"aws:SecureTransport": "false"}})}


def check_checkov(new: Template, _) -> None:
    (bucket,) = of_type(new, "AWS::S3::Bucket").values()
    assert bucket["Metadata"]["checkov"]["skip"] == [{"id": "CKV_AWS_18", "comment": (
        "This bucket is the access-log target itself: logging into itself would never end")}]


def check_collection_api(new: Template, _) -> None:
    (post,) = [m for m in of_type(new, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "POST"]
    integration = post["Properties"]["Integration"]
    assert integration["Type"] == "AWS" and ":kinesis:action/PutRecords" in json.dumps(integration["Uri"])
    assert "RequestValidatorId" in post["Properties"]
    assert one(new, "AWS::ApiGateway::Model")["Schema"]["required"] == ["events"]
    stage = one(new, "AWS::ApiGateway::Stage")
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 100
    assert stage["TracingEnabled"] is True and "AccessLogSetting" in stage
    puts = [s for s in statements(new) if "kinesis:PutRecords" in actions(s)]
    assert [s["Resource"] for s in puts] == [{"Fn::GetAtt": ["Stream790BDEE4", "Arn"]}]


def check_data_lake_storage(new: Template, _) -> None:
    names = {b["Properties"]["BucketName"]: b["Properties"] for b in of_type(new, "AWS::S3::Bucket").values()}
    assert set(names) == {"acme-raw-123456789012-us-east-1", "acme-curated-123456789012-us-east-1"}
    for bucket in names.values():
        transitions = [t for r in bucket["LifecycleConfiguration"]["Rules"] for t in r.get("Transitions", [])]
        assert transitions == [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 0}]


def check_firehose_opensearch(new: Template, _) -> None:
    stream = one(new, "AWS::KinesisFirehose::DeliveryStream")
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    search = stream["AmazonopensearchserviceDestinationConfiguration"]
    assert (search["IndexName"], search["S3BackupMode"]) == ("logs", "FailedDocumentsOnly")
    assert search["S3Configuration"]["Prefix"] == "search-failed/"
    assert "VpcConfiguration" in search
    ingress = one(new, "AWS::EC2::SecurityGroupIngress")
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (443, 443, "tcp")
    assert ingress["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("ToSearchSecurityGroup")
    assert ingress["GroupId"]["Fn::GetAtt"][0].startswith("SearchSecurityGroup")   # the domain's


def check_firehose_parquet(new: Template, _) -> None:
    destination = one(new, "AWS::KinesisFirehose::DeliveryStream")["ExtendedS3DestinationConfiguration"]
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"]["Compression"] == "SNAPPY"
    assert conversion["SchemaConfiguration"]["TableName"] == "access_logs"
    assert destination["Prefix"] == "access_logs/dt=!{partitionKeyFromLambda:dt}/"
    (reingest,) = [r["Properties"] for k, r in of_type(new, "AWS::IAM::Policy").items()
                   if k.startswith("DeliveryProcessorReingest")]
    assert reingest["Roles"] == [{"Ref": "FunctionServiceRole675BB04A"}]   # the processor's role
    assert [s["Action"] for s in reingest["PolicyDocument"]["Statement"]] == ["firehose:PutRecordBatch"]


def check_flink_application(new: Template, copied: dict[str, Any]) -> None:
    application = one(new, "AWS::KinesisAnalyticsV2::Application")
    assert application["RuntimeEnvironment"] == "FLINK-1_20"
    groups = {g["PropertyGroupId"]: g["PropertyMap"]
              for g in application["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}
    assert groups["kinesis.analytics.flink.run.options"] == {"python": "main.py", "jarfile": "lib/connector.jar"}
    assert groups["refarch.job"]["job.name"] == "clicks"
    code = application["ApplicationConfiguration"]["ApplicationCodeConfiguration"]["CodeContent"]
    assert asset_files(copied, code["S3ContentLocation"]["FileKey"]) == {
        "main.py", "clicks/queries/01_count.sql", "lib/connector.jar"}
    assert [p.name.startswith("flink-clicks-") for p in (copied["outdir"] / "staging").iterdir()].count(True) == 1
    assert "StartApplication" in json.dumps(one(new, "Custom::AWS")["Create"])
    (provider,) = [r["Properties"] for k, r in of_type(new, "AWS::Lambda::Function").items() if k.startswith("AWS679f")]
    assert provider["LoggingConfig"]["LogGroup"]["Ref"].startswith("AWS679f53fac002430cb0da5b7982bd2287Logs")


def check_glue_etl(new: Template, _) -> None:
    job = one(new, "AWS::Glue::Job")
    assert (job["GlueVersion"], job["Command"]["Name"], job["WorkerType"], job["NumberOfWorkers"]) == (
        "5.0", "glueetl", "G.1X", 2)
    assert job["DefaultArguments"]["--source_path"] == "s3://raw/trades/"
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"
    encryption = one(new, "AWS::Glue::SecurityConfiguration")["EncryptionConfiguration"]
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert job["SecurityConfiguration"] == one(new, "AWS::Glue::SecurityConfiguration")["Name"]


def check_glue_table(new: Template, _) -> None:
    table = one(new, "AWS::Glue::Table")["TableInput"]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("trade_id", "string"), ("price", "decimal(18,4)")]


def check_iot_rule(new: Template, _) -> None:
    rule = one(new, "AWS::IoT::TopicRule")["TopicRulePayload"]
    assert rule["Sql"] == "SELECT * FROM 'devices/+/telemetry'"
    assert rule["Actions"][0]["Kinesis"]["PartitionKey"] == "${topic(2)}"
    assert rule["ErrorAction"]["S3"]["Key"].startswith("iot-rule-errors/")
    assert {a for s in statements(new) for a in actions(s)} == {
        "kinesis:PutRecord", "kinesis:PutRecords", "s3:PutObject", "kms:GenerateDataKey"}


def check_keys(new: Template, _) -> None:
    key = one(new, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True and key["PendingWindowInDays"] == 30
    sids = {s.get("Sid") for s in key["KeyPolicy"]["Statement"]}
    assert {"AllowCloudWatchLogsOfThisAccount", "AllowCloudwatchToUseTheKey"} <= sids
    assert one(new, "AWS::KMS::Alias")["AliasName"] == "alias/acme/data"


def check_lake_reader_role(new: Template, _) -> None:
    trust = one(new, "AWS::IAM::Role")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert trust == {"Service": "redshift.amazonaws.com"}
    (read,) = [s for s in statements(new) if actions(s) == ["s3:GetObject"]]
    assert read["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::acme-curated/trades/*"]]}
    assert not [a for s in statements(new) for a in actions(s) if a.startswith("s3:Put")]


def check_lifecycle(new: Template, _) -> None:
    (bucket,) = of_type(new, "AWS::S3::Bucket").values()
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def check_logs(new: Template, _) -> None:
    group = one(new, "AWS::Logs::LogGroup")
    assert group["RetentionInDays"] == 30 and group["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}


def check_nag(new: Template, copied: dict[str, Any]) -> None:
    assert len(of_type(new, "AWS::SQS::Queue")) == 1
    metadata = copied["modules"]["nag"]["subject_constructs"]["Failures"]
    assert metadata == [["aws:cdk:acknowledged-rules", {"Annotation::AwsSolutions-SQS3": (
        "This queue is itself a failure destination; it keeps what exhausted its retries")}]]


def check_named_queries(new: Template, _) -> None:
    query = one(new, "AWS::Athena::NamedQuery")
    assert (query["Name"], query["WorkGroup"], query["Database"]) == ("count_rows", "primary", "lake")


def check_network(new: Template, _) -> None:
    assert len(of_type(new, "AWS::EC2::VPC")) == 1
    assert not of_type(new, "AWS::EC2::InternetGateway") and not of_type(new, "AWS::EC2::NatGateway")
    endpoints = [r["Properties"] for r in of_type(new, "AWS::EC2::VPCEndpoint").values()]
    assert sorted(e.get("VpcEndpointType", "Gateway") for e in endpoints) == ["Gateway", "Gateway",
                                                                             "Interface", "Interface"]
    assert all(e["PrivateDnsEnabled"] for e in endpoints if e.get("VpcEndpointType") == "Interface")
    assert one(new, "AWS::EC2::FlowLog")["TrafficType"] == "ALL"
    assert len(of_type(new, "AWS::EC2::Subnet")) == 2


def check_outputs(_, copied: dict[str, Any]) -> None:
    outputs = subject(copied, "outputs")["Outputs"]
    assert outputs["StreamName"] == {"Value": {"Ref": "Stream790BDEE4"}}


def check_placement_api(new: Template, _) -> None:
    (get,) = [m["Properties"] for m in of_type(new, "AWS::ApiGateway::Method").values()]
    assert (get["HttpMethod"], get["AuthorizationType"]) == ("GET", "AWS_IAM")
    assert get["Integration"]["Type"] == "AWS_PROXY"
    assert one(new, "AWS::ApiGateway::Stage")["TracingEnabled"] is True
    (invoke,) = [s for s in statements(new) if actions(s) == ["execute-api:Invoke"]]
    assert "placements/*/ad" in json.dumps(invoke["Resource"])
    assert len(of_type(new, "AWS::Lambda::Permission")) == 2   # the stage and test invoke, the method's own
    assert len(of_type(new, "AWS::CloudWatch::Alarm")) == 3


def check_placements_table(new: Template, _) -> None:
    table = one(new, "AWS::DynamoDB::Table")
    assert table["KeySchema"] == [{"AttributeName": "placement_id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEType"] == "KMS"


def check_provider_framework(new: Template, copied: dict[str, Any]) -> None:
    (framework,) = [r for r in of_type(new, "AWS::Lambda::Function").values()
                    if r["Properties"]["Handler"] == "framework.onEvent"]
    assert {skip["id"] for skip in framework["Metadata"]["checkov"]["skip"]} == {
        "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_115"}
    (handler,) = [k for k, r in subject(copied, "provider_framework")["Resources"].items()
                  if r["Type"] == "AWS::Lambda::Function" and k.startswith("Function")]   # the one it was given
    entries = copied["modules"]["provider_framework"]["subject_constructs"]["Provider/framework-onEvent"]
    acknowledged = {rule: reason for kind, data in entries if kind == "aws:cdk:acknowledged-rules"
                    for rule, reason in data.items()}
    assert all(reason.startswith("aws-cdk-lib's provider framework") for reason in acknowledged.values())
    assert sorted(acknowledged) == sorted([
        "Annotation::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        f"Annotation::AwsSolutions-IAM5[Resource::<{handler}.Arn>:*]",
        "Annotation::AwsSolutions-L1"])


def check_provider_logs(_, copied: dict[str, Any]) -> None:
    resources = subject(copied, "provider_logs")["Resources"]
    (handler,) = [r["Properties"] for k, r in resources.items() if k.startswith("CustomS3AutoDeleteObjects")
                  and r["Type"] == "AWS::Lambda::Function"]
    group = handler["LoggingConfig"]["LogGroup"]["Ref"]
    assert group.startswith("CustomResourceLogs")
    assert resources[group]["Properties"]["RetentionInDays"] == 30 and "KmsKeyId" in resources[group]["Properties"]


def check_python_function(new: Template, copied: dict[str, Any]) -> None:
    function = one(new, "AWS::Lambda::Function")
    assert (function["Runtime"], function["Handler"]) == ("python3.13", "handler.handler")
    assert function["KmsKeyArn"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    (layer,) = function["Layers"]
    assert subject(copied, "python_function")["Parameters"][layer["Ref"]]["Default"] == \
        "/aws/service/powertools/python/x86_64/python3.13/3.37.0"
    assert asset_files(copied, function["Code"]["S3Key"]) == {
        "handler.py", "sql/count_rows.sql", "sql/setup/01_create_schema.sql"}
    assert any(p.name.startswith("function-") for p in (copied["outdir"] / "staging").iterdir())
    (logs,) = statements(new)
    assert actions(logs) == ["logs:CreateLogStream", "logs:PutLogEvents"]


def check_redshift_streaming(new: Template, _) -> None:
    setup = one(new, "Custom::RedshiftStreamingSetup")
    assert setup["Streaming"] == {"STREAM_NAME": {"Ref": "Stream790BDEE4"}}
    reads = [s for s in statements(new) if "kinesis:GetRecords" in actions(s)]
    assert [s["Resource"] for s in reads] == [{"Fn::GetAtt": ["Stream790BDEE4", "Arn"]}]


def check_scheduled_function(new: Template, _) -> None:
    rule = one(new, "AWS::Events::Rule")
    assert rule["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert "DeadLetterConfig" in rule["Targets"][0]
    config = one(new, "AWS::Lambda::EventInvokeConfig")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 3600)
    queue = next(iter(of_type(new, "AWS::SQS::Queue")))
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue, "Arn"]}
    (send,) = [r["Properties"] for k, r in of_type(new, "AWS::IAM::Policy").items()
               if k.startswith("NightlySendFailures")]
    assert send["Roles"] == [{"Ref": "FunctionServiceRole675BB04A"}]
    assert [actions(s) for s in send["PolicyDocument"]["Statement"]] == [
        ["sqs:SendMessage"], ["kms:GenerateDataKey", "kms:Decrypt"]]


def check_search_domain(new: Template, _) -> None:
    domain = one(new, "AWS::OpenSearchService::Domain")
    assert domain["EncryptionAtRestOptions"]["Enabled"] and domain["NodeToNodeEncryptionOptions"]["Enabled"]
    assert domain["DomainEndpointOptions"] == {"EnforceHTTPS": True,
                                               "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"}
    security = domain["AdvancedSecurityOptions"]
    assert security["InternalUserDatabaseEnabled"] is False
    assert security["MasterUserOptions"]["MasterUserARN"] == {"Fn::GetAtt": ["Role1ABCC5F0", "Arn"]}
    assert len(domain["VPCOptions"]["SubnetIds"]) == 1 and len(of_type(new, "AWS::Logs::LogGroup")) == 4


def check_search_index_setup(new: Template, _) -> None:
    functions = [r["Properties"] for r in of_type(new, "AWS::Lambda::Function").values()]
    (setup,) = [f for f in functions if f.get("Handler") == "handler.handler"]
    assert "VpcConfig" in setup
    (paths,) = [s for s in statements(new) if "es:ESHttpPut" in actions(s)]
    assert paths["Resource"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":es:us-east-1:123456789012:domain/logs/*"]]}


def check_staging(_, copied: dict[str, Any]) -> None:
    key = subject(copied, "staging")["Outputs"]["BundleKey"]["Value"]
    assert asset_files(copied, key) == {"count_rows.sql", "setup/01_create_schema.sql"}
    staged = [p for p in (copied["outdir"] / "staging").iterdir() if p.name.startswith("bundle-")]
    assert len(staged) == 1 and oct(staged[0].parent.stat().st_mode & 0o777) == "0o700"


def check_stream(new: Template, _) -> None:
    stream = one(new, "AWS::Kinesis::Stream")
    assert (stream["ShardCount"], stream["RetentionPeriodHours"]) == (2, 48)
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"


def check_stream_consumer(new: Template, _) -> None:
    mapping = of_type(new, "AWS::Lambda::EventSourceMapping")
    ((mapping_id, resource),) = mapping.items()
    props = resource["Properties"]
    assert props["BisectBatchOnFunctionError"] is True and props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (props["StartingPosition"], props["MaximumRetryAttempts"], props["MaximumRecordAgeInSeconds"]) == (
        "TRIM_HORIZON", 3, 3600)
    queue = next(iter(of_type(new, "AWS::SQS::Queue")))
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue, "Arn"]}
    ((policy_id, policy),) = of_type(new, "AWS::IAM::Policy").items()
    assert policy["Properties"]["Roles"] == [{"Ref": "FunctionServiceRole675BB04A"}]
    assert resource["DependsOn"] == [policy_id]   # Lambda checks the role when the mapping is made
    assert {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in actions(s)} == {
        "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator",
        "kinesis:ListShards", "sqs:SendMessage", "kms:Decrypt", "kms:GenerateDataKey"}
    assert len(of_type(new, "AWS::CloudWatch::Alarm")) == 5


def check_stream_producer(new: Template, _) -> None:
    (put, encrypt) = one(new, "AWS::IAM::ManagedPolicy")["PolicyDocument"]["Statement"]
    assert put["Resource"] == {"Fn::GetAtt": ["Stream790BDEE4", "Arn"]} and "kinesis:PutRecords" in put["Action"]
    assert encrypt["Condition"] == {"StringEquals": {"kms:ViaService": "kinesis.us-east-1.amazonaws.com"}}
    assert "ManagedPolicyArns" in one(new, "AWS::IAM::Role")


def check_streams_to_lake(new: Template, _) -> None:
    assert one(new, "AWS::Glue::Table")["TableInput"]["Name"] == "events"
    stream = one(new, "AWS::KinesisFirehose::DeliveryStream")
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    (processor,) = stream["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "MetadataExtraction"
    assert {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{dt: .event_time[0:10]}"} in \
        processor["Parameters"]


def check_telemetry_table(new: Template, _) -> None:
    table = one(new, "AWS::DynamoDB::Table")
    assert table["KeySchema"] == [{"AttributeName": "device_id", "KeyType": "HASH"},
                                  {"AttributeName": "ts", "KeyType": "RANGE"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def check_warehouse(new: Template, _) -> None:
    cluster = one(new, "AWS::Redshift::Cluster")
    assert cluster["Encrypted"] is True and cluster["PubliclyAccessible"] is False
    assert cluster["EnhancedVpcRouting"] is True and cluster["ManageMasterPassword"] is True
    parameters = {p["ParameterName"]: p["ParameterValue"]
                  for p in one(new, "AWS::Redshift::ClusterParameterGroup")["Parameters"]}
    assert parameters["require_ssl"] == "true"


def check_warehouse_setup(new: Template, _) -> None:
    resource = one(new, "Custom::RedshiftWarehouseSetup")
    assert resource["Warehouse"]["LAKE_DATABASE"] == "lake"
    functions = [r["Properties"] for r in of_type(new, "AWS::Lambda::Function").values()]
    assert any("VpcConfig" in f and f["Environment"]["Variables"].get("DB_USER") for f in functions)


def check_zones(_, copied: dict[str, Any]) -> None:
    assert subject(copied, "zones")["Outputs"]["ZoneKind"] == {"Value": "id"}


CHECKS: dict[str, Callable[[Template, dict[str, Any]], None]] = {
    name.removeprefix("check_"): check for name, check in globals().items() if name.startswith("check_")}
# What a minimal use may change in what existed before it, and why (nothing, but for these).
CHANGES_BY_DESIGN = {
    "provider_logs": (["Custom::S3AutoDeleteObjectsCustomResourceProvider/Handler: changed"],
                      "log_cdk_providers is applied to a stack to give aws-cdk-lib's provider functions in it "
                      "an encrypted log group: configuring those functions is its whole task"),
}


@synth
@pytest.mark.parametrize("module", MODULES)
def test_each_construct_copied_alone_builds_what_the_catalogue_says(copied, module):
    CHECKS[module](added(copied, module), copied)


@synth
@pytest.mark.parametrize("module", MODULES)
def test_no_construct_changes_what_it_is_given(copied, module):
    subject(copied, module)
    expected, _reason = CHANGES_BY_DESIGN.get(module, ([], ""))
    assert copies.changes_to_what_it_was_given(copied, module) == expected


@synth
def test_the_copies_run_where_the_repository_cannot_be_imported(copied):
    assert copied["repository_importable"] is False


def test_every_module_has_a_template_check():
    assert set(CHECKS) == set(MODULES)


# The copy test itself fails where it should --------------------------------------------

FAKE_MODULES = {
    "tagging": '''from constructs import IConstruct
from aws_cdk import Tags


def tag(construct: IConstruct) -> None:
    Tags.of(construct).add("owner", "data")
''',
    "tidy": '''from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.constructs.tagging import tag


class Tidy(Construct):
    def __init__(self, scope, id):
        super().__init__(scope, id)
        self.queue = sqs.Queue(self, "Queue")
        tag(self.queue)
''',
    "leaky": '''from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.constructs.tagging import tag
from refarch.paths import PROJECT_ROOT


class Leaky(Construct):
    def __init__(self, scope, id):
        super().__init__(scope, id)
        tag(sqs.Queue(self, "Queue", queue_name=PROJECT_ROOT.name))
''',
    "meddling": '''from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class Meddling(Construct):
    def __init__(self, scope, id, *, role):
        super().__init__(scope, id)
        queue = sqs.Queue(self, "Queue")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
''',
    "acking": '''from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class Acking(Construct):
    def __init__(self, scope, id, *, function):
        super().__init__(scope, id)
        sqs.Queue(self, "Queue")
        Validations.of(function).acknowledge(Acknowledgment(id="AwsSolutions-L1", reason="not mine to say"))
''',
}
FAKE_USES = {
    "tidy": "from refarch.constructs.tidy import Tidy\n\nTidy(stack, 'Tidy')\n",
    "leaky": "from refarch.constructs.leaky import Leaky\n\nLeaky(stack, 'Leaky')\n",
    "meddling": "from refarch.constructs.meddling import Meddling\n\nMeddling(stack, 'Meddling', role=role)\n",
    "acking": "from refarch.constructs.acking import Acking\n\nAcking(stack, 'Acking', function=function)\n",
}


@pytest.fixture(scope="module")
def fake_copies(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fake-copies")
    package = root / "repository" / "refarch" / "constructs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, source in FAKE_MODULES.items():
        (package / f"{name}.py").write_text(source)
    made = []
    for module, use in FAKE_USES.items():
        copies.copy_alone(package, module, root / module, f"copied_{module}")
        made.append(Copy(module, f"copied_{module}", root / module, copies.as_copied(use, f"copied_{module}")))
    return copies.run_copies(made, root / "app")


@synth
def test_a_module_with_its_helpers_copies_alone(fake_copies):
    assert fake_copies["modules"]["tidy"]["error"] is None
    queue = one(copies.template(fake_copies, fake_copies["modules"]["tidy"]["subject"])["Resources"],
                "AWS::SQS::Queue")
    assert queue["Tags"] == [{"Key": "owner", "Value": "data"}]   # the helper came along and ran


@synth
def test_the_copy_fails_when_a_module_imports_the_repository_beyond_its_helpers(fake_copies):
    error = fake_copies["modules"]["leaky"]["error"]
    assert error is not None and "ModuleNotFoundError: No module named 'refarch'" in error


@synth
def test_the_check_catches_a_grant_added_to_a_given_role(fake_copies):
    assert copies.changes_to_what_it_was_given(fake_copies, "meddling") == [
        "Role/DefaultPolicy/Resource: added under Role"]


@synth
def test_the_check_catches_an_acknowledgement_on_a_given_function(fake_copies):
    (change,) = copies.changes_to_what_it_was_given(fake_copies, "acking")
    assert change.startswith("Function: metadata [] became [['aws:cdk:acknowledged-rules', "
                             "{'Annotation::AwsSolutions-L1': 'not mine to say'}]]")


# The catalogue ---------------------------------------------------------------------

def test_the_catalogue_names_every_construct_module():
    assert sorted(copies.catalogue_sections()) == MODULES


@pytest.mark.parametrize("module", MODULES)
def test_the_catalogue_says_which_helpers_to_copy_with_each_module(module):
    found = re.search(r"Copy with: (?P<helpers>.*?)\n\n", copies.catalogue_sections()[module], re.DOTALL)
    assert found, f"{module}: no 'Copy with: ...' line"
    named = set(re.findall(r"`(\w+)\.py`", found["helpers"]))
    assert named == set(copies.import_closure(CONSTRUCTS, module)) - {module}


def test_the_catalogue_says_what_each_module_builds():
    for module, section in copies.catalogue_sections().items():
        assert "**Builds**" in section, module


def test_the_readme_links_the_catalogue_below_its_two_commands():
    readme = (copies.PROJECT_ROOT / "README.md").read_text()
    assert readme.index("make demo") < readme.index("make test") < readme.index("(docs/constructs.md)")
    assert readme.index("(docs/constructs.md)") < readme.index("## Patterns")


def test_the_import_closure_follows_helpers_of_helpers():
    assert copies.import_closure(CONSTRUCTS, "streams_to_lake") == [
        "alarms", "firehose_parquet", "glue_table", "logs", "nag", "streams_to_lake"]
    assert copies.import_closure(CONSTRUCTS, "zones") == ["zones"]


def test_snippets_use_only_the_documented_collaborators():
    documented = set(re.findall(r"`(\w+)`", copies.CATALOGUE.read_text().split("| area |")[0])) | set(dir(builtins))
    for module, section in copies.catalogue_sections().items():
        tree = ast.parse(copies.minimal_use(section))
        bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        assert used - bound - imported <= documented, (module, used - bound - imported - documented)

