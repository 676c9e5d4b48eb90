"""AdTech: what the synthesized template promises (ingest, job, updater, API, alarms)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from refarch.config import settings_from_context
from refarch.setting_parsers import SettingError


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("AdTech"))


@pytest.fixture(scope="module")
def resources(synthesis) -> dict:
    return synthesis.template("AdTech")["Resources"]


def logical(resources: dict, kind: str, prefix: str) -> str:
    (found,) = [k for k, r in resources.items() if r["Type"] == kind and k.startswith(prefix)]
    return found


def statements(resources: dict, kind: str = "AWS::IAM::Policy", prefix: str = "") -> list[dict]:
    return [s for k, r in resources.items() if r["Type"] == kind and k.startswith(prefix)
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


# --- 1. ingest ---------------------------------------------------------------------------

def test_the_ad_event_stream_is_encrypted_and_sized_from_the_expected_load(resources):
    stream = resources[logical(resources, "AWS::Kinesis::Stream", "AdEventsStream")]["Properties"]
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    assert "SecurityBaseline:ExportsOutputFnGetAttDataKey" in json.dumps(stream["StreamEncryption"]["KeyId"])
    assert stream["ShardCount"] == 1 and stream["RetentionPeriodHours"] == 24
    assert settings_from_context({"adtech_events_per_second": "2500"}).adtech.shards == 3


def test_the_producer_policy_may_put_on_the_ad_event_stream_and_use_the_key_only_through_kinesis(resources):
    policy = resources[logical(resources, "AWS::IAM::ManagedPolicy", "AdServersPolicy")]["Properties"]
    put, key = policy["PolicyDocument"]["Statement"]
    assert sorted(actions(put)) == ["kinesis:DescribeStreamSummary", "kinesis:ListShards",
                                    "kinesis:PutRecord", "kinesis:PutRecords"]
    assert put["Resource"] == {"Fn::GetAtt": [logical(resources, "AWS::Kinesis::Stream", "AdEventsStream"), "Arn"]}
    assert actions(key) == ["kms:GenerateDataKey"] and "DataKey" in json.dumps(key["Resource"])
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "kinesis.us-east-1.amazonaws.com"}}


def test_the_ad_server_role_holds_the_producer_and_invoke_policies_and_is_an_output(resources, synthesis):
    role = resources[logical(resources, "AWS::IAM::Role", "AdServersRole")]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    attached = {ref["Ref"] for ref in role["ManagedPolicyArns"]}
    assert attached == {logical(resources, "AWS::IAM::ManagedPolicy", "AdServersPolicy"),
                        logical(resources, "AWS::IAM::ManagedPolicy", "PlacementApiInvokePolicy")}
    outputs = synthesis.template("AdTech")["Outputs"]
    assert {"AdServerRoleArn", "ProducerPolicyArn", "AdEventsStreamName", "PlacementApiUrl"} <= set(outputs)


# --- 2. the Flink job ----------------------------------------------------------------------

def test_the_job_reads_the_events_and_writes_windows_and_dead_letters_with_its_properties(resources):
    app = resources[logical(resources, "AWS::KinesisAnalyticsV2::Application", "CtrJob")]["Properties"]
    assert app["RuntimeEnvironment"] == "FLINK-1_20"
    groups = {g["PropertyGroupId"]: g["PropertyMap"]
              for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}
    job = groups["refarch.job"]
    assert {k: job[k] for k in ("job.name", "attribution.minutes", "source.idle.timeout", "state.ttl")} == {
        "job.name": "adtech", "attribution.minutes": "5", "source.idle.timeout": "60 s", "state.ttl": "60 min"}
    assert {k for k in job if k.startswith("sink.")} == {"sink.ctr.stream.arn", "sink.deadletters.stream.arn"}
    dead = resources[logical(resources, "AWS::Kinesis::Stream", "DeadLettersStream")]["Properties"]
    assert dead["RetentionPeriodHours"] == 168


# --- 3. the updater --------------------------------------------------------------------------

def test_the_updater_consumes_the_ctr_stream_with_bisect_partial_failures_and_a_failure_queue(template, resources):
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [logical(resources, "AWS::Kinesis::Stream", "PlacementCtrStream"), "Arn"]},
        "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3,
        "FunctionResponseTypes": ["ReportBatchItemFailures"], "StartingPosition": "TRIM_HORIZON", "BatchSize": 100,
        "DestinationConfig": {"OnFailure": {"Destination": {
            "Fn::GetAtt": [Match.string_like_regexp("^ConsumeCtrFailedBatches"), "Arn"]}}}})


def test_conditional_writes_are_allowed_only_on_the_placements_table(resources):
    table = {"Fn::GetAtt": [logical(resources, "AWS::DynamoDB::Table", "PlacementsTable"), "Arn"]}
    dynamodb = [s for s in statements(resources) if any(a.startswith("dynamodb:") for a in actions(s))]
    writes = [s for s in dynamodb if set(actions(s)) - {"dynamodb:GetItem"}]
    assert [(actions(s), s["Resource"]) for s in writes] == [(["dynamodb:UpdateItem"], table)]
    assert [(actions(s), s["Resource"]) for s in dynamodb if s not in writes] == [(["dynamodb:GetItem"], table)]
    managed = statements(resources, "AWS::IAM::ManagedPolicy")
    assert not [a for s in managed for a in actions(s) if a.startswith("dynamodb:")]


def test_the_placements_table_has_ttl_pitr_and_the_data_key(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "placement_id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()}})


def test_the_updater_gets_the_ranking_rules_from_the_settings(synthesis):
    from refarch.synthesis import synthesize
    del synthesis  # the default app has the defaults; this one changes them
    resources = synthesize({"patterns": "AdTech", "adtech_prior_ctr": "0.02", "adtech_min_impressions": "50",
                            "adtech_api_auth": "api-key"}, gates=False, environ={}).template("AdTech")["Resources"]
    variables = [r["Properties"]["Environment"]["Variables"] for r in resources.values()
                 if r["Type"] == "AWS::Lambda::Function" and "MIN_IMPRESSIONS" in json.dumps(r)]
    assert [(v["PRIOR_CTR"], v["MIN_IMPRESSIONS"]) for v in variables] == [("0.02", "50")]
    (method,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert (method["AuthorizationType"], method["ApiKeyRequired"]) == ("NONE", True)
    (plan,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::UsagePlan"]
    assert plan["Throttle"] == {"BurstLimit": 2000, "RateLimit": 1000}
    assert [r["Type"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::UsagePlanKey"]


# --- 4. the placement API ----------------------------------------------------------------------

def test_the_api_method_requires_iam_validates_parameters_and_proxies_to_the_function(template):
    template.has_resource_properties("AWS::ApiGateway::Method", {
        "HttpMethod": "GET", "AuthorizationType": "AWS_IAM",
        "RequestParameters": {"method.request.path.placement_id": True, "method.request.querystring.candidates": False},
        "RequestValidatorId": Match.any_value(),
        "Integration": Match.object_like({"Type": "AWS_PROXY"})})
    template.has_resource_properties("AWS::ApiGateway::RequestValidator", {"ValidateRequestParameters": True})


def test_the_stage_throttles_traces_and_writes_json_access_logs_to_an_encrypted_group(template, resources):
    stage = resources[logical(resources, "AWS::ApiGateway::Stage", "PlacementApi")]["Properties"]
    assert stage["StageName"] == "v1" and stage["TracingEnabled"] is True
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (1000, 2000)
    group_id = logical(resources, "AWS::Logs::LogGroup", "PlacementApiAccessLogs")
    assert group_id in json.dumps(stage["AccessLogSetting"]["DestinationArn"])
    assert json.loads(stage["AccessLogSetting"]["Format"])["status"] == "$context.status"
    group = resources[group_id]["Properties"]
    assert "KmsKeyId" in group and group["RetentionInDays"] == 365


def test_the_invoke_policy_names_only_the_get_method(resources):
    policy = resources[logical(resources, "AWS::IAM::ManagedPolicy", "PlacementApiInvokePolicy")]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert actions(statement) == ["execute-api:Invoke"]
    resource = json.dumps(statement["Resource"])
    assert resource.endswith('"/GET/placements/*/ad"]]}')
    assert logical(resources, "AWS::ApiGateway::Stage", "PlacementApiDeploymentStagev1") in resource


def test_the_decider_reads_only_its_table_and_learns_exploration_and_fallback(resources):
    (variables,) = [r["Properties"]["Environment"]["Variables"] for r in resources.values()
                    if r["Type"] == "AWS::Lambda::Function" and "EXPLORATION_SHARE" in json.dumps(r)]
    assert {k: variables[k] for k in ("EXPLORATION_SHARE", "FALLBACK_AD", "CACHE_SECONDS")} == {
        "EXPLORATION_SHARE": "0.1", "FALLBACK_AD": "house-ad", "CACHE_SECONDS": "5"}


# --- 5. alarms and dashboard -------------------------------------------------------------------

def test_alarms_cover_ingest_flink_updater_dead_letters_and_the_api(resources):
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    metrics = sorted(a.get("MetricName") or "math" for a in alarms)
    assert metrics == sorted([
        "WriteProvisionedThroughputExceeded", "IncomingRecords", "NumberOfMessagesSent", "math",
        "downtime", "numberOfFailedCheckpoints", "millisBehindLatest",
        "IteratorAge", "NumberOfMessagesSent", "Errors", "Throttles", "ApproximateAgeOfOldestMessage",
        "5XXError", "Latency", "Errors"])
    latency = next(a for a in alarms if a.get("MetricName") == "Latency")
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 100)
    server = next(a for a in alarms if a.get("MetricName") == "5XXError")
    assert (server["Statistic"], server["Threshold"]) == ("Average", 0.01)
    stale = next(a for a in alarms if "Metrics" in a)
    assert stale["Metrics"][0]["Expression"] == "stale / (replaced + merged + stale)"


def test_the_loop_dashboard_shows_rejections_and_api_latency(resources):
    bodies = [json.dumps(r["Properties"]["DashboardBody"]) for k, r in resources.items()
              if r["Type"] == "AWS::CloudWatch::Dashboard" and k.startswith("LoopDashboard")]
    (body,) = bodies
    for shown in ("StaleWindowsRejected", "ConditionalCheckFailedRequests", "millisBehindLatest", "Latency",
                  "IncomingRecords", "RankingsReplaced"):
        assert shown in body, shown


# --- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "value", "allowed"), [
    ("adtech_exploration_share", "0.9", "a number from 0 to 0.5"),
    ("adtech_attribution_minutes", "0", "a whole number from 1 to 60"),
    ("adtech_api_auth", "cognito", "one of iam, api-key"),
    ("adtech_fallback_ad", "house ad", "1 to 128 of"),
])
def test_a_bad_setting_fails_with_one_line_naming_it(setting, value, allowed):
    with pytest.raises(SettingError) as raised:
        settings_from_context({setting: value})
    assert str(raised.value).startswith(f"invalid setting {setting}={value!r}: allowed {allowed}")
