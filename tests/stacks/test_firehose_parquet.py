"""FirehoseParquet: what the synthesized template promises.

Compression codecs, retry counts, alarm thresholds and the exact alarm list are today's
choices of the constructs and stay in the snapshot; these tests state what the pattern relies
on, including an alarm to the ops topic on each way a record can fail to arrive.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from refarch.lambda_code import load_lambda_module
from refarch.paths import LAMBDA_ROOT
from refarch.stacks.firehose_parquet import TABLE_PREFIX, UNDATED
from tests.stacks.failure_alarms import assert_failure_alarm, ops_topic

COLUMNS = load_lambda_module("log_transform", "log_transform_parse").COLUMNS


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("FirehoseParquet"))


@pytest.fixture(scope="module")
def stream(template) -> dict:
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    return stream["Properties"]


@pytest.fixture(scope="module")
def destination(stream) -> dict:
    return stream["ExtendedS3DestinationConfiguration"]


def is_data_key(value) -> bool:
    return value["Fn::ImportValue"].startswith("refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey")


def table_named(template, name: str) -> dict:
    (table,) = [t["Properties"] for t in template.find_resources("AWS::Glue::Table").values()
                if t["Properties"]["TableInput"]["Name"] == name]
    return table


def access_log_table(template) -> dict:
    return table_named(template, "access_logs")


def only_id(template, kind: str, prefix: str = "") -> str:
    (logical_id,) = [k for k in template.find_resources(kind) if k.startswith(prefix)]
    return logical_id


def transform_environment(template) -> dict:
    function = template.find_resources("AWS::Lambda::Function")[only_id(template, "AWS::Lambda::Function",
                                                                         "TransformFunction")]
    return function["Properties"]["Environment"]["Variables"]


def test_conversion_is_enabled_against_the_partitioned_glue_table(template, destination):
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    schema = conversion["SchemaConfiguration"]
    table = access_log_table(template)
    assert (schema["DatabaseName"], schema["TableName"]) == (table["DatabaseName"], table["TableInput"]["Name"])
    assert schema["VersionId"] == "LATEST"   # a column added to the table is converted from then on
    assert conversion["InputFormatConfiguration"] == {"Deserializer": {"OpenXJsonSerDe": {}}}   # the transform's JSON
    assert "ParquetSerDe" in conversion["OutputFormatConfiguration"]["Serializer"]


def test_buffering_is_at_least_64_mb(destination):
    assert destination["BufferingHints"]["SizeInMBs"] >= 64
    assert destination["CompressionFormat"] == "UNCOMPRESSED"  # required with conversion


def test_the_lambda_processor_is_the_transform(template, destination):
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "Lambda"
    assert params["LambdaArn"] == {"Fn::GetAtt": [only_id(template, "AWS::Lambda::Function", "TransformFunction"),
                                                  "Arn"]}


def test_output_is_partitioned_by_the_lines_own_date_where_the_table_projects_it(template, destination):
    # dt is the key the transform returns for each Ok record (its UTC day, or "undated")
    table = access_log_table(template)["TableInput"]
    (key,) = [k["Name"] for k in table["PartitionKeys"]]
    location = table["Parameters"]["storage.location.template"]["Fn::Join"][1][-1]   # /access_logs/dt=${dt}/
    assert destination["Prefix"] == location.lstrip("/").replace(f"${{{key}}}", f"!{{partitionKeyFromLambda:{key}}}")
    assert destination["Prefix"].startswith(TABLE_PREFIX)
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True


def test_errors_keep_their_failure_type_in_the_prefix(destination):
    assert "!{firehose:error-output-type}" in destination["ErrorOutputPrefix"]


def test_source_records_are_backed_up(destination):
    assert destination["S3BackupMode"] == "Enabled"
    assert destination["S3BackupConfiguration"]["BucketARN"] == destination["BucketARN"]


def test_backups_and_errors_land_where_the_bucket_expires_them_and_the_parquet_is_kept(template, destination):
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    expiring = [r["Prefix"] for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
                if "ExpirationInDays" in r]
    backup = destination["S3BackupConfiguration"]
    for prefix in (backup["Prefix"], backup["ErrorOutputPrefix"], destination["ErrorOutputPrefix"]):
        assert any(prefix.startswith(e) for e in expiring), prefix
    assert not any(destination["Prefix"].startswith(e) for e in expiring)


def test_everything_is_encrypted_with_the_baseline_key(template, stream, destination):
    sse = stream["DeliveryStreamEncryptionConfigurationInput"]
    assert sse["KeyType"] == "CUSTOMER_MANAGED_CMK" and is_data_key(sse["KeyARN"])
    assert is_data_key(destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"])
    backup = destination["S3BackupConfiguration"]["EncryptionConfiguration"]
    assert is_data_key(backup["KMSEncryptionConfig"]["AWSKMSKeyARN"])
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert is_data_key(default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])


def test_delivery_errors_are_logged_to_cloudwatch(destination):
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True


def test_glue_columns_equal_the_python_declaration(template):
    table = access_log_table(template)
    descriptor = table["TableInput"]["StorageDescriptor"]
    assert tuple((c["Name"], c["Type"]) for c in descriptor["Columns"]) == COLUMNS
    assert table["TableInput"]["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


def test_table_projects_every_day_the_transform_gives_a_line(template):
    params = access_log_table(template)["TableInput"]["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    # first_log_date .. tomorrow: the transform's range for a dated line (log_transform_partition)
    assert params["projection.dt.range"] == f"{transform_environment(template)['FIRST_LOG_DATE']},NOW+1DAYS"


def test_lines_no_projection_covers_are_kept_in_the_undated_table(template):
    undated = table_named(template, "access_logs_undated")["TableInput"]
    assert "PartitionKeys" not in undated
    bucket = only_id(template, "AWS::S3::Bucket")
    assert undated["StorageDescriptor"]["Location"] == {"Fn::Join": ["", [
        "s3://", {"Ref": bucket}, f"/{TABLE_PREFIX}dt={UNDATED}/"]]}
    assert tuple((c["Name"], c["Type"]) for c in undated["StorageDescriptor"]["Columns"]) == COLUMNS


def test_firehose_role_reads_only_this_table_and_invokes_only_the_transform(template):
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith("DeliveryRole")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    glue = next(s for s in statements if "glue:GetTable" in s["Action"])
    database = {"Ref": only_id(template, "AWS::Glue::Database")}
    catalog, in_database, table = glue["Resource"]
    assert catalog.endswith(":catalog") and in_database["Fn::Join"][1][-1] == database
    assert table["Fn::Join"][1][-2:] == [database, "/access_logs"]
    invoke = next(s for s in statements if "lambda:InvokeFunction" in s["Action"])
    function, versions = invoke["Resource"]  # the function and its versions ($LATEST)
    assert function["Fn::GetAtt"][0].startswith("TransformFunction")
    assert versions["Fn::Join"][1] == [function, ":*"]


def test_transform_may_reingest_into_its_own_stream_only(template, stream):
    # The grant is the delivery construct's own policy on the transform's role; the role's
    # default policy (the stack's) holds only its logs.
    policies = template.find_resources("AWS::IAM::Policy")
    puts = [(k, s) for k, p in policies.items() for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "firehose:PutRecordBatch" in s["Action"]]
    [(owner, put)] = puts
    assert owner.startswith("DeliveryProcessorReingest")
    transform = template.find_resources("AWS::Lambda::Function")[only_id(template, "AWS::Lambda::Function",
                                                                          "TransformFunction")]
    assert policies[owner]["Properties"]["Roles"] == [{"Ref": transform["Properties"]["Role"]["Fn::GetAtt"][0]}]
    assert put["Action"] == "firehose:PutRecordBatch"
    assert put["Resource"] == f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{stream['DeliveryStreamName']}"


def firehose(stream: dict) -> dict:
    return {"Name": "DeliveryStreamName", "Value": stream["DeliveryStreamName"]}


def test_a_failing_or_stuck_delivery_to_s3_alarms_the_ops_topic(template, stream):
    resources = template.to_json()["Resources"]
    topic = ops_topic(resources)
    assert_failure_alarm(resources, "AWS/Firehose", "DeliveryToS3.Success", firehose(stream),
                         fires="below", topic=topic)
    assert_failure_alarm(resources, "AWS/Firehose", "DeliveryToS3.DataFreshness", firehose(stream),
                         fires="above", topic=topic)


def test_records_that_fail_parquet_conversion_alarm_the_ops_topic(template, stream):
    # They land under errors/format-conversion-failed/, which nobody reads unless told.
    resources = template.to_json()["Resources"]
    assert_failure_alarm(resources, "AWS/Firehose", "FailedConversion.Records", firehose(stream),
                         fires="above", topic=ops_topic(resources))


def test_a_failing_transform_alarms_the_ops_topic(template, stream):
    # Firehose failing to invoke it (records to errors/processing-failed/), and the function raising.
    resources = template.to_json()["Resources"]
    topic = ops_topic(resources)
    assert_failure_alarm(resources, "AWS/Firehose", "ExecuteProcessing.Success", firehose(stream),
                         fires="below", topic=topic)
    transform = {"Name": "FunctionName", "Value": {"Ref": only_id(template, "AWS::Lambda::Function",
                                                                  "TransformFunction")}}
    assert_failure_alarm(resources, "AWS/Lambda", "Errors", transform, fires="above", topic=topic)


def test_the_unparsed_lines_alarm_reads_the_metric_the_transform_publishes(template):
    (alarm,) = [a["Properties"] for k, a in template.find_resources("AWS::CloudWatch::Alarm").items()
                if k.startswith("UnparsedLines")]
    transform = load_lambda_module("log_transform", "log_transform")
    assert alarm["Namespace"] == transform.metrics.namespace
    assert alarm["Dimensions"] == [{"Name": "service", "Value": transform.metrics.service}]
    assert f'"{alarm["MetricName"]}"' in (LAMBDA_ROOT / "log_transform" / "log_transform.py").read_text()
