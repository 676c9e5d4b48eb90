"""StreamingLogAnalytics in its synthesized template: the collection API, the Flink job, the three
sinks (lake, OpenSearch, Redshift) and their alarms, read from the session's one synthesis."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from refarch import clickstream_schema as schema

STACK = "StreamingLogAnalytics"


@pytest.fixture(scope="module")
def raw(synthesis) -> dict:
    return synthesis.template(STACK)


@pytest.fixture(scope="module")
def template(raw) -> Template:
    return Template.from_json(raw)


def of_type(raw: dict, kind: str) -> dict[str, dict]:
    return {k: r.get("Properties", {}) for k, r in raw["Resources"].items() if r["Type"] == kind}


def one(raw: dict, kind: str, prefix: str = "") -> dict:
    (found,) = [p for k, p in of_type(raw, kind).items() if k.startswith(prefix)]
    return found


# --- 1. the collection endpoint ------------------------------------------------------

def test_the_api_model_is_the_python_schema_with_the_batch_limit(raw):
    model = one(raw, "AWS::ApiGateway::Model")
    assert model["ContentType"] == "application/json"
    assert model["Schema"] == schema.request_schema(500)
    assert model["Schema"]["properties"]["events"]["maxItems"] == 500
    assert model["Schema"]["properties"]["events"]["items"]["additionalProperties"] is False


def test_the_post_validates_its_body_and_integrates_straight_with_kinesis_put_records(raw):
    (method,) = [m for m in of_type(raw, "AWS::ApiGateway::Method").values() if m["HttpMethod"] == "POST"]
    validator = raw["Resources"][method["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["ValidateRequestBody"] is True
    integration = method["Integration"]
    assert integration["Type"] == "AWS"
    assert json.dumps(integration["Uri"]).count(":kinesis:action/PutRecords") == 1
    assert integration["PassthroughBehavior"] == "NEVER"
    template = json.dumps(integration["RequestTemplates"]["application/json"])
    assert "$util.base64Encode" in template and "$event.visitor_id" in template
    assert ":lambda:" not in json.dumps(integration["Uri"])   # no Lambda in the hot path


def test_the_api_role_may_only_put_records_on_the_events_stream(raw):
    (role_id,) = [k for k, r in raw["Resources"].items()
                  if r["Type"] == "AWS::IAM::Role" and k.startswith("CollectRole")]
    (policy,) = [p for p in of_type(raw, "AWS::IAM::Policy").values() if p["Roles"] == [{"Ref": role_id}]]
    statements = policy["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["kinesis:PutRecords", "kms:GenerateDataKey"]
    assert statements[0]["Resource"] == {"Fn::GetAtt": [next(k for k in raw["Resources"] if k.startswith("EventsStream")), "Arn"]}


def test_a_malformed_body_gets_400_with_the_validators_reason(raw):
    responses = {r["ResponseType"]: r for r in of_type(raw, "AWS::ApiGateway::GatewayResponse").values()}
    body = responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"]
    assert "$context.error.validationErrorString" in body
    assert responses["BAD_REQUEST_BODY"]["ResponseParameters"] == {
        "gatewayresponse.header.Access-Control-Allow-Origin": "'https://www.example.com'"}


def test_the_stage_is_throttled_traced_and_logs_access_to_an_encrypted_group(raw):
    stage = one(raw, "AWS::ApiGateway::Stage")
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (500, 1000)
    assert stage["TracingEnabled"] is True
    group_id = stage["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][1]["Ref"]
    group = raw["Resources"][group_id]["Properties"]
    assert "KmsKeyId" in group and group["RetentionInDays"] == 365


def test_cors_admits_only_the_configured_origins(raw):
    (options,) = [m for m in of_type(raw, "AWS::ApiGateway::Method").values()
                  if m["HttpMethod"] == "OPTIONS" and m["Integration"]["Type"] == "MOCK"][:1]
    headers = options["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
    assert headers["method.response.header.Access-Control-Allow-Origin"] == "'https://www.example.com'"
    assert headers["method.response.header.Access-Control-Allow-Methods"] == "'POST,OPTIONS'"


# --- 2. the Flink job ----------------------------------------------------------------

def test_the_job_reads_the_events_and_writes_four_streams_with_its_intervals(raw):
    app = one(raw, "AWS::KinesisAnalyticsV2::Application")
    groups = {g["PropertyGroupId"]: g["PropertyMap"]
              for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}
    job = groups["refarch.job"]
    assert job["job.name"] == "streaming_log"
    assert {k for k in job if k.startswith("sink.")} == {
        "sink.clean.stream.arn", "sink.deadletters.stream.arn", "sink.windows.stream.arn", "sink.alerts.stream.arn"}
    assert job["state.ttl"] == "10 min" and job["source.idle.timeout"] == "60 s"
    assert app["RuntimeEnvironment"] == "FLINK-1_20"


# --- 3. the sinks --------------------------------------------------------------------

def test_the_lake_firehoses_read_the_streams_not_direct_put(raw):
    lake = {k: p for k, p in of_type(raw, "AWS::KinesisFirehose::DeliveryStream").items() if k.startswith("ToLake")}
    assert len(lake) == 3
    for props in lake.values():
        assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
        assert "DeliveryStreamEncryptionConfigurationInput" not in props
        s3 = props["ExtendedS3DestinationConfiguration"]
        assert s3["DataFormatConversionConfiguration"]["Enabled"] is True
        assert s3["Prefix"].endswith("dt=!{partitionKeyFromQuery:dt}/")
        assert s3["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
        assert "KMSEncryptionConfig" in s3["EncryptionConfiguration"]


def test_the_clean_events_are_partitioned_by_their_event_date_against_the_glue_table(raw):
    events = one(raw, "AWS::KinesisFirehose::DeliveryStream", "ToLakeEventsDelivery")
    (processor,) = events["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]["Processors"]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert params["MetadataExtractionQuery"] == "{dt: .event_time[0:10]}"
    table = one(raw, "AWS::Glue::Table", "ToLakeEventsTable")["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == list(schema.glue_columns())
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]


def test_named_queries_run_in_the_lakes_workgroup_on_the_clickstream_database(raw):
    queries = of_type(raw, "AWS::Athena::NamedQuery")
    assert len(queries) == 6
    assert {q["Database"] for q in queries.values()} == {"refarch_clickstream_dev"}
    assert {q["WorkGroup"] for q in queries.values()} == {"refarch-dev-BatchDataLake-Analysts"}


def test_the_domain_is_private_encrypted_https_only_with_iam_master_fgac(raw):
    domain = one(raw, "AWS::OpenSearchService::Domain")
    assert domain["EncryptionAtRestOptions"]["Enabled"] is True and "KmsKeyId" in domain["EncryptionAtRestOptions"]
    assert domain["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert domain["DomainEndpointOptions"] == {"EnforceHTTPS": True,
                                               "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"}
    security = domain["AdvancedSecurityOptions"]
    assert security["Enabled"] is True and security["InternalUserDatabaseEnabled"] is False
    assert "MasterUserARN" in security["MasterUserOptions"]
    assert len(domain["VPCOptions"]["SubnetIds"]) == 2   # no public endpoint: a VPC domain
    (statement,) = domain["AccessPolicies"]["Statement"]
    assert statement["Principal"] != "*" and statement["Principal"]["AWS"] != "*"
    assert domain["ClusterConfig"]["ZoneAwarenessEnabled"] is True
    assert domain["ClusterConfig"]["InstanceCount"] == 2 and domain["EBSOptions"]["VolumeSize"] == 359


def test_firehose_delivers_into_the_vpc_and_backs_up_failed_documents(raw):
    search = one(raw, "AWS::KinesisFirehose::DeliveryStream", "ToSearch")
    assert search["DeliveryStreamType"] == "KinesisStreamAsSource"
    destination = search["AmazonopensearchserviceDestinationConfiguration"]
    assert destination["S3BackupMode"] == "FailedDocumentsOnly"
    assert destination["S3Configuration"]["Prefix"] == "search-failed/"
    assert destination["IndexName"] == "clickstream" and destination["IndexRotationPeriod"] == "NoRotation"
    assert len(destination["VpcConfiguration"]["SubnetIds"]) == 2


def test_the_index_template_and_ism_policy_are_applied_at_deploy(raw):
    setup = one(raw, "Custom::SearchIndexSetup")
    template = json.loads(setup["Template"])
    assert template["template"]["mappings"] == schema.opensearch_mapping()
    assert template["template"]["mappings"]["dynamic"] == "strict"
    policy = json.loads(setup["Policy"])["policy"]
    hot, delete = policy["states"]
    assert hot["actions"][0]["rollover"]["min_index_age"] == "1d"
    assert hot["transitions"] == [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}]
    assert delete["actions"] == [{"delete": {}}]


def test_the_streaming_ingestion_role_may_read_exactly_the_clean_stream(raw):
    (policy,) = [p for k, p in of_type(raw, "AWS::IAM::Policy").items() if k.startswith("ToWarehouseReadStream")]
    read, decrypt, list_streams = policy["PolicyDocument"]["Statement"]
    clean = next(k for k in raw["Resources"] if k.startswith("CleanEventsStream"))
    assert read["Resource"] == {"Fn::GetAtt": [clean, "Arn"]}
    assert set(read["Action"]) == {"kinesis:DescribeStreamSummary", "kinesis:DescribeStream",
                                   "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"}
    assert decrypt["Action"] == "kms:Decrypt"
    assert list_streams == {"Action": "kinesis:ListStreams", "Effect": "Allow", "Resource": "*"}
    assert "Fn::ImportValue" in json.dumps(policy["Roles"])   # the warehouse's role
    setup = one(raw, "Custom::RedshiftStreamingSetup")
    assert set(setup["Streaming"]) == {"STREAM_NAME", "STREAMING_ROLE_ARN"}


def test_the_streaming_setup_is_run_by_the_warehouse_s_setup_function_not_its_loader(raw):
    # It creates schemas and a materialized view: admin DDL, which the loader's database user may not run.
    framework = one(raw, "AWS::Lambda::Function", "ToWarehouseProviderframeworkonEvent")
    assert framework["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"] == {
        "Fn::ImportValue": "refarch-dev-RedshiftWarehouse-SetupFunctionArn"}


def test_alarms_watch_the_domain_and_every_delivery(template):
    names = {p.get("MetricName") for p in template.find_resources("AWS::CloudWatch::Alarm").values()
             for p in [p["Properties"]]}
    assert {"ClusterStatus.red", "ClusterStatus.yellow", "FreeStorageSpace", "JVMMemoryPressure",
            "ClusterIndexWritesBlocked", "DeliveryToAmazonOpenSearchService.Success", "DeliveryToS3.Success",
            "5XXError", "downtime"} <= names


def test_every_alarm_notifies_the_ops_topic(template):
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": Match.string_like_regexp("OpsTopic")}] or \
            "OpsTopic" in json.dumps(alarm["Properties"]["AlarmActions"])


def test_the_warehouse_attaches_the_streaming_ingestion_role_with_no_permission_of_its_own(synthesis):
    raw = synthesis.template("RedshiftWarehouse")
    cluster = one(raw, "AWS::Redshift::Cluster")
    role = next(k for k in raw["Resources"] if k.startswith("StreamingIngestion"))
    assert {"Fn::GetAtt": [role, "Arn"]} in cluster["IamRoles"]
    assert not [p for p in of_type(raw, "AWS::IAM::Policy").values() if {"Ref": role} in p.get("Roles", [])]
