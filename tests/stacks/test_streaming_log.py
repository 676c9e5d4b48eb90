"""StreamingLogAnalytics in its synthesized template: the collection API, the Flink job, the three
sinks (lake, OpenSearch, Redshift) and their alarms, read from the session's one synthesis.

That the model, the Glue columns and the index mapping are the Python schema is
tests/test_clickstream_schema.py's; that every alarm notifies the ops topic is
test_monitoring.py's (the failure-path alarms here check it again); the cluster's roles are
test_redshift_warehouse.py's. Runtime, sizes, alarm thresholds and the exact alarm list stay in
the snapshot; settings are compared with the settings the session's app is built from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from refarch.patterns import BASELINE
from refarch.paths import SQL_ROOT
from tests.stacks.failure_alarms import assert_failure_alarm, ops_topic

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


def logical(raw: dict, kind: str, prefix: str) -> str:
    (found,) = [k for k in of_type(raw, kind) if k.startswith(prefix)]
    return found


@pytest.fixture(scope="module")
def settings(synthesis):
    return synthesis.settings.clickstream


def isolated_subnets(synthesis) -> set[str]:
    """The export names of the baseline's (isolated) subnets."""
    baseline = synthesis.template(BASELINE)
    subnets = {k for k, r in baseline["Resources"].items() if r["Type"] == "AWS::EC2::Subnet"}
    return {o["Export"]["Name"] for o in baseline["Outputs"].values()
            if "Export" in o and o["Value"].get("Ref") in subnets}


# --- 1. the collection endpoint ------------------------------------------------------

def test_the_api_model_limits_the_batch_to_the_setting_and_refuses_unknown_fields(raw, settings):
    model = one(raw, "AWS::ApiGateway::Model")
    assert model["ContentType"] == "application/json"
    assert model["Schema"]["properties"]["events"]["maxItems"] == settings.batch_max
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


def origins_header(settings) -> str:
    """The header a single configured origin gives (several are answered per request, in VTL)."""
    (origin,) = settings.allowed_origins
    return f"'{origin}'"


def test_a_malformed_body_gets_400_with_the_validators_reason(raw, settings):
    responses = {r["ResponseType"]: r for r in of_type(raw, "AWS::ApiGateway::GatewayResponse").values()}
    body = responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"]
    assert "$context.error.validationErrorString" in body
    assert responses["BAD_REQUEST_BODY"]["ResponseParameters"] == {
        "gatewayresponse.header.Access-Control-Allow-Origin": origins_header(settings)}


def test_the_stage_is_throttled_at_the_settings_traced_and_logs_access_to_an_encrypted_group(raw, settings):
    stage = one(raw, "AWS::ApiGateway::Stage")
    (method_settings,) = stage["MethodSettings"]
    assert (method_settings["ThrottlingRateLimit"], method_settings["ThrottlingBurstLimit"]) == (
        settings.rate_limit, settings.burst_limit)
    assert stage["TracingEnabled"] is True
    group_id = stage["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][1]["Ref"]
    assert "KmsKeyId" in raw["Resources"][group_id]["Properties"]


def test_cors_admits_only_the_configured_origins(raw, settings):
    (options,) = [m for m in of_type(raw, "AWS::ApiGateway::Method").values()
                  if m["HttpMethod"] == "OPTIONS" and m["Integration"]["Type"] == "MOCK"][:1]
    headers = options["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
    assert headers["method.response.header.Access-Control-Allow-Origin"] == origins_header(settings)
    assert headers["method.response.header.Access-Control-Allow-Methods"] == "'POST,OPTIONS'"


# --- 2. the Flink job ----------------------------------------------------------------

def test_the_job_reads_the_events_and_writes_four_streams_with_the_settings_intervals(raw, settings):
    app = one(raw, "AWS::KinesisAnalyticsV2::Application")
    groups = {g["PropertyGroupId"]: g["PropertyMap"]
              for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}
    job = groups["refarch.job"]
    assert job["source.stream.arn"] == {"Fn::GetAtt": [logical(raw, "AWS::Kinesis::Stream", "EventsStream"), "Arn"]}
    sinks = {k: v for k, v in job.items() if k.startswith("sink.")}
    assert set(sinks) == {
        "sink.clean.stream.arn", "sink.deadletters.stream.arn", "sink.windows.stream.arn", "sink.alerts.stream.arn"}
    streams = set(of_type(raw, "AWS::Kinesis::Stream"))
    assert all(arn["Fn::GetAtt"][0] in streams for arn in sinks.values())   # streams of this stack
    assert job["state.ttl"] == f"{settings.dedup_minutes} min"
    assert job["source.idle.timeout"] == f"{settings.idle_timeout_seconds} s"


# --- 3. the sinks --------------------------------------------------------------------

def test_the_lake_firehoses_read_the_streams_not_direct_put(raw):
    lake = {k: p for k, p in of_type(raw, "AWS::KinesisFirehose::DeliveryStream").items() if k.startswith("ToLake")}
    assert lake   # clean events, windows, dead letters
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
    assert params["MetadataExtractionQuery"] == "{dt: .event_time[0:10]}"   # the event's own UTC day
    table = one(raw, "AWS::Glue::Table", "ToLakeEventsTable")["TableInput"]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert events["ExtendedS3DestinationConfiguration"]["DataFormatConversionConfiguration"]["SchemaConfiguration"][
        "TableName"] == table["Name"]


def test_named_queries_run_in_the_lakes_workgroup_on_the_clickstream_database(synthesis, raw):
    queries = of_type(raw, "AWS::Athena::NamedQuery")
    files = Path(SQL_ROOT, "athena", "clickstream").glob("*.sql")
    assert {q["Name"] for q in queries.values()} == {p.stem for p in files}
    (database,) = of_type(raw, "AWS::Glue::Database").values()
    assert {q["Database"] for q in queries.values()} == {database["DatabaseInput"]["Name"]}
    workgroup = synthesis.template("BatchDataLake")["Outputs"]["WorkGroupName"]["Value"]
    assert {q["WorkGroup"] for q in queries.values()} == {workgroup}


def test_the_domain_is_private_encrypted_https_only_with_iam_master_fgac(synthesis, raw):
    domain = one(raw, "AWS::OpenSearchService::Domain")
    assert domain["EncryptionAtRestOptions"]["Enabled"] is True and "KmsKeyId" in domain["EncryptionAtRestOptions"]
    assert domain["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert domain["DomainEndpointOptions"] == {"EnforceHTTPS": True,
                                               "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"}
    security = domain["AdvancedSecurityOptions"]
    assert security["Enabled"] is True and security["InternalUserDatabaseEnabled"] is False
    assert "MasterUserARN" in security["MasterUserOptions"]
    # no public endpoint: a VPC domain in the baseline's isolated subnets
    assert {s["Fn::ImportValue"] for s in domain["VPCOptions"]["SubnetIds"]} == isolated_subnets(synthesis)
    (statement,) = domain["AccessPolicies"]["Statement"]
    assert statement["Principal"] != "*" and statement["Principal"]["AWS"] != "*"
    assert domain["ClusterConfig"]["ZoneAwarenessEnabled"] is True   # sizes are the sizing tests' and the snapshot's


def test_firehose_delivers_into_the_vpc_and_backs_up_failed_documents(synthesis, raw):
    search = one(raw, "AWS::KinesisFirehose::DeliveryStream", "ToSearch")
    assert search["DeliveryStreamType"] == "KinesisStreamAsSource"
    destination = search["AmazonopensearchserviceDestinationConfiguration"]
    assert destination["S3BackupMode"] == "FailedDocumentsOnly"
    assert {s["Fn::ImportValue"] for s in destination["VpcConfiguration"]["SubnetIds"]} == isolated_subnets(synthesis)


def test_firehose_writes_to_the_alias_the_index_policy_rolls_over(raw):
    # Firehose must not rotate indexes itself: the ISM policy rolls the alias over.
    destination = one(raw, "AWS::KinesisFirehose::DeliveryStream", "ToSearch")[
        "AmazonopensearchserviceDestinationConfiguration"]
    setup = one(raw, "Custom::SearchIndexSetup")
    assert destination["IndexName"] == setup["Alias"] and destination["IndexRotationPeriod"] == "NoRotation"
    patterns = json.loads(setup["Template"])["index_patterns"]
    assert patterns == json.loads(setup["Policy"])["policy"]["ism_template"][0]["index_patterns"]
    assert all(p.startswith(setup["Alias"]) for p in patterns)


def test_the_index_policy_rolls_over_daily_and_deletes_after_the_retention_setting(raw, settings):
    policy = json.loads(one(raw, "Custom::SearchIndexSetup")["Policy"])["policy"]
    hot, delete = policy["states"]
    assert hot["actions"][0]["rollover"]["min_index_age"] == "1d"
    assert hot["transitions"] == [{"state_name": "delete",
                                   "conditions": {"min_index_age": f"{settings.search_retention_days}d"}}]
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


def test_alarms_watch_the_api_and_the_job(template, raw):
    # Which metrics each alarms on is the constructs' business (and the snapshot's); that the
    # job alarms when it is down or fails checkpoints is test_monitoring.py's, for every job.
    alarms = template.find_resources("AWS::CloudWatch::Alarm").values()
    watched = json.dumps([a["Properties"]["Dimensions"] for a in alarms])
    (api,) = of_type(raw, "AWS::ApiGateway::RestApi").values()
    assert json.dumps({"Name": "ApiName", "Value": api["Name"]}) in watched
    assert f'"{logical(raw, "AWS::KinesisAnalyticsV2::Application", "ClickstreamJob")}"' in watched


def delivery_streams(raw: dict, destination: str) -> list[dict]:
    """The delivery streams with a destination of that kind, as {"Name": ..., "Value": ...} dimensions."""
    found = [{"Name": "DeliveryStreamName", "Value": d["DeliveryStreamName"]}
             for d in of_type(raw, "AWS::KinesisFirehose::DeliveryStream").values() if destination in d]
    assert found, destination
    return found


def test_every_lake_delivery_alarms_when_it_fails_to_write_or_convert(raw):
    # Failed records land under errors/ (by failure type), which nobody reads unless told.
    topic = ops_topic(raw["Resources"])
    for delivery in delivery_streams(raw, "ExtendedS3DestinationConfiguration"):   # events, windows, dead letters
        assert_failure_alarm(raw["Resources"], "AWS/Firehose", "DeliveryToS3.Success", delivery,
                             fires="below", topic=topic)
        assert_failure_alarm(raw["Resources"], "AWS/Firehose", "FailedConversion.Records", delivery,
                             fires="above", topic=topic)


def test_the_search_delivery_alarms_when_indexing_fails_and_when_its_failed_document_backup_fails(raw):
    topic = ops_topic(raw["Resources"])
    (delivery,) = delivery_streams(raw, "AmazonopensearchserviceDestinationConfiguration")
    assert_failure_alarm(raw["Resources"], "AWS/Firehose", "DeliveryToAmazonOpenSearchService.Success", delivery,
                         fires="below", topic=topic)
    # the backup is where refused documents go (search-failed/): its failing loses them
    assert_failure_alarm(raw["Resources"], "AWS/Firehose", "DeliveryToS3.Success", delivery,
                         fires="below", topic=topic)


def test_the_domain_alarms_when_it_blocks_writes_or_loses_a_primary_shard(raw):
    domain = one(raw, "AWS::OpenSearchService::Domain")
    # AWS/ES publishes a domain's metrics under its name and its account: an alarm missing either reads nothing.
    (statement,) = domain["AccessPolicies"]["Statement"]
    dimensions = ({"Name": "DomainName", "Value": domain["DomainName"]},
                  {"Name": "ClientId", "Value": statement["Resource"].split(":")[4]})
    topic = ops_topic(raw["Resources"])
    for metric in ("ClusterIndexWritesBlocked", "ClusterStatus.red"):
        assert_failure_alarm(raw["Resources"], "AWS/ES", metric, *dimensions, fires="above", topic=topic)
