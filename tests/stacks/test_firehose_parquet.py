"""FirehoseParquet: what the synthesized template promises."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from refarch.lambda_code import load_lambda_module

COLUMNS = load_lambda_module("log_transform", "log_transform_parse").COLUMNS


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("FirehoseParquet"))


@pytest.fixture(scope="module")
def destination(template) -> dict:
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    return stream["Properties"]["ExtendedS3DestinationConfiguration"]


def is_data_key(value) -> bool:
    return value["Fn::ImportValue"].startswith("refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey")


def test_conversion_is_enabled_against_the_glue_table(template, destination):
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    schema = conversion["SchemaConfiguration"]
    assert schema["TableName"] == "access_logs"
    assert schema["DatabaseName"] == {"Ref": "Database"}
    assert schema["VersionId"] == "LATEST"
    assert conversion["InputFormatConfiguration"] == {"Deserializer": {"OpenXJsonSerDe": {}}}
    assert conversion["OutputFormatConfiguration"] == {
        "Serializer": {"ParquetSerDe": {"Compression": "SNAPPY"}}}


def test_buffering_is_at_least_64_mb(destination):
    assert destination["BufferingHints"]["SizeInMBs"] >= 64
    assert destination["CompressionFormat"] == "UNCOMPRESSED"  # required with conversion


def test_lambda_processor_is_configured(destination):
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert processor["Type"] == "Lambda"
    assert params["LambdaArn"]["Fn::GetAtt"][0].startswith("TransformFunction")
    assert params["NumberOfRetries"] == "3"


def test_output_is_partitioned_by_the_lines_own_date_with_an_error_prefix_keeping_the_failure_type(destination):
    # dt is the key the transform returns for each Ok record (its UTC day, or "undated")
    assert destination["Prefix"] == "access_logs/dt=!{partitionKeyFromLambda:dt}/"
    assert destination["DynamicPartitioningConfiguration"] == {
        "Enabled": True, "RetryOptions": {"DurationInSeconds": 300}}
    assert destination["ErrorOutputPrefix"] == "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"


def test_source_records_are_backed_up_raw(destination):
    assert destination["S3BackupMode"] == "Enabled"
    backup = destination["S3BackupConfiguration"]
    assert backup["Prefix"] == "raw/dt=!{timestamp:yyyy-MM-dd}/"
    assert backup["CompressionFormat"] == "GZIP"


def test_everything_is_encrypted_with_the_baseline_key(template, destination):
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    sse = stream["Properties"]["DeliveryStreamEncryptionConfigurationInput"]
    assert sse["KeyType"] == "CUSTOMER_MANAGED_CMK" and is_data_key(sse["KeyARN"])
    assert is_data_key(destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"])
    backup = destination["S3BackupConfiguration"]["EncryptionConfiguration"]
    assert is_data_key(backup["KMSEncryptionConfig"]["AWSKMSKeyARN"])
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert is_data_key(default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])


def test_delivery_errors_are_logged_to_cloudwatch(destination):
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True


def access_log_table(template) -> dict:
    (table,) = [t for t in template.find_resources("AWS::Glue::Table").values()
                if t["Properties"]["TableInput"]["Name"] == "access_logs"]
    return table


def test_glue_columns_equal_the_python_declaration(template):
    table = access_log_table(template)
    descriptor = table["Properties"]["TableInput"]["StorageDescriptor"]
    assert tuple((c["Name"], c["Type"]) for c in descriptor["Columns"]) == COLUMNS
    assert table["Properties"]["TableInput"]["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


def test_table_projects_every_day_the_transform_gives_a_line(template):
    params = access_log_table(template)["Properties"]["TableInput"]["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    # first_log_date .. tomorrow: the transform's range for a dated line (log_transform_partition)
    assert params["projection.dt.range"] == "2020-01-01,NOW+1DAYS"


def test_lines_no_projection_covers_are_kept_in_the_undated_table(template):
    transform_env = next(f["Properties"]["Environment"]["Variables"]
                         for n, f in template.find_resources("AWS::Lambda::Function").items()
                         if n.startswith("TransformFunction"))
    assert transform_env["FIRST_LOG_DATE"] == "2020-01-01"
    (undated,) = [t["Properties"]["TableInput"] for t in template.find_resources("AWS::Glue::Table").values()
                  if t["Properties"]["TableInput"]["Name"] == "access_logs_undated"]
    assert "PartitionKeys" not in undated
    assert undated["StorageDescriptor"]["Location"] == {"Fn::Join": ["", [
        "s3://", {"Ref": "Logs6819BB44"}, "/access_logs/dt=undated/"]]}
    assert tuple((c["Name"], c["Type"]) for c in undated["StorageDescriptor"]["Columns"]) == COLUMNS


def test_firehose_role_reads_only_this_table_and_invokes_only_the_transform(template):
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith("DeliveryRole")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    glue = next(s for s in statements if "glue:GetTable" in s["Action"])
    assert len(glue["Resource"]) == 3  # catalog, database, table
    invoke = next(s for s in statements if "lambda:InvokeFunction" in s["Action"])
    function, versions = invoke["Resource"]  # the function and its versions ($LATEST)
    assert function["Fn::GetAtt"][0].startswith("TransformFunction")
    assert versions["Fn::Join"][1] == [function, ":*"]


def test_transform_may_reingest_into_its_own_stream_only(template):
    # The grant is the delivery construct's own policy on the transform's role; the role's
    # default policy (the stack's) holds only its logs.
    policies = template.find_resources("AWS::IAM::Policy")
    puts = [(k, s) for k, p in policies.items() for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "firehose:PutRecordBatch" in s["Action"]]
    [(owner, put)] = puts
    assert owner.startswith("DeliveryProcessorReingest")
    assert policies[owner]["Properties"]["Roles"] == [{"Ref": "TransformRole30EB06CF"}]
    assert put["Action"] == "firehose:PutRecordBatch"
    assert put["Resource"] == ("arn:aws:firehose:us-east-1:123456789012:"
                               "deliverystream/refarch-dev-FirehoseParquet-Delivery")


def test_alarms_watch_freshness_delivery_conversion_and_the_transform(template):
    metrics = sorted(a["Properties"]["MetricName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values())
    assert metrics == ["DeliveryToS3.DataFreshness", "DeliveryToS3.Success", "Errors",
                       "ExecuteProcessing.Success", "FailedConversion.Records", "RecordsFailed"]
