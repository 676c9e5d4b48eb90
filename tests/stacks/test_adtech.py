"""AdTech: what the synthesized template promises (ingest, job, updater, API, alarms).

Today's values of the defaults (batch size, runtime, stage name, thresholds) stay in the
snapshot. These tests state the properties, and show each setting reaching its resource in
an app synthesized with other values than the defaults (`tuned`).
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from refarch.config import settings_from_context
from refarch.lambda_code import load_lambda_module
from refarch.paths import LAMBDA_ROOT
from refarch.setting_parsers import SettingError
from refarch.synthesis import synthesize
from tests.stacks.failure_alarms import assert_failure_alarm, ops_topic

DATA_KEY_EXPORT = "refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey"
# Settings other than the defaults: a resource that follows them cannot be showing a default.
TUNED = {"patterns": "AdTech", "adtech_events_per_second": "2500", "adtech_attribution_minutes": "45",
         "adtech_idle_timeout_seconds": "30", "adtech_batch_size": "40", "adtech_prior_ctr": "0.02",
         "adtech_min_impressions": "50", "adtech_exploration_share": "0.25", "adtech_fallback_ad": "promo-ad",
         "adtech_api_cache_seconds": "12", "adtech_api_auth": "api-key", "adtech_api_rate_per_second": "50",
         "adtech_api_burst": "80", "adtech_api_p99_ms": "250"}


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("AdTech"))


@pytest.fixture(scope="module")
def resources(synthesis) -> dict:
    return synthesis.template("AdTech")["Resources"]


@pytest.fixture(scope="module")
def tuned(synthesis, tmp_path_factory) -> dict:
    """AdTech's resources in an app synthesized with the TUNED settings."""
    del synthesis  # the default app has the defaults; this one changes them
    return synthesize(TUNED, outdir=str(tmp_path_factory.mktemp("cdk.out.adtech")), gates=False,
                      environ={}).template("AdTech")["Resources"]


def logical(resources: dict, kind: str, prefix: str) -> str:
    (found,) = [k for k, r in resources.items() if r["Type"] == kind and k.startswith(prefix)]
    return found


def properties_of(resources: dict, kind: str) -> list[dict]:
    return [r["Properties"] for r in resources.values() if r["Type"] == kind]


def statements(resources: dict, kind: str = "AWS::IAM::Policy", prefix: str = "") -> list[dict]:
    return [s for k, r in resources.items() if r["Type"] == kind and k.startswith(prefix)
            for s in r["Properties"]["PolicyDocument"]["Statement"]]


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def is_data_key(value) -> bool:
    return value["Fn::ImportValue"].startswith(DATA_KEY_EXPORT)


def job_properties(resources: dict) -> dict:
    app = resources[logical(resources, "AWS::KinesisAnalyticsV2::Application", "CtrJob")]["Properties"]
    groups = {g["PropertyGroupId"]: g["PropertyMap"]
              for g in app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]}
    return groups["refarch.job"]


def function_variables(resources: dict, prefix: str) -> dict:
    return resources[logical(resources, "AWS::Lambda::Function", prefix)]["Properties"]["Environment"]["Variables"]


# --- 1. ingest ---------------------------------------------------------------------------

def test_the_ad_event_stream_is_encrypted_with_the_baseline_data_key(resources):
    stream = resources[logical(resources, "AWS::Kinesis::Stream", "AdEventsStream")]["Properties"]
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    assert is_data_key(stream["StreamEncryption"]["KeyId"])


def test_the_expected_load_sizes_the_ad_event_stream(tuned):
    stream = tuned[logical(tuned, "AWS::Kinesis::Stream", "AdEventsStream")]["Properties"]
    # 2,500 events/s is more than one shard's 1,000 records/s (the default load fits one)
    assert stream["ShardCount"] == settings_from_context(TUNED).adtech.shards == 3


def test_the_producer_policy_may_put_on_the_ad_event_stream_and_use_the_key_only_through_kinesis(resources):
    policy = resources[logical(resources, "AWS::IAM::ManagedPolicy", "AdServersPolicy")]["Properties"]
    put, key = policy["PolicyDocument"]["Statement"]
    assert sorted(actions(put)) == ["kinesis:DescribeStreamSummary", "kinesis:ListShards",
                                    "kinesis:PutRecord", "kinesis:PutRecords"]
    assert put["Resource"] == {"Fn::GetAtt": [logical(resources, "AWS::Kinesis::Stream", "AdEventsStream"), "Arn"]}
    assert actions(key) == ["kms:GenerateDataKey"] and "DataKey" in json.dumps(key["Resource"])
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "kinesis.us-east-1.amazonaws.com"}}


def test_the_ad_server_role_is_for_this_account_and_holds_exactly_the_producer_and_invoke_policies(resources):
    role = resources[logical(resources, "AWS::IAM::Role", "AdServersRole")]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    attached = {ref["Ref"] for ref in role["ManagedPolicyArns"]}
    assert attached == {logical(resources, "AWS::IAM::ManagedPolicy", "AdServersPolicy"),
                        logical(resources, "AWS::IAM::ManagedPolicy", "PlacementApiInvokePolicy")}


def test_the_stack_outputs_what_an_ad_server_needs(synthesis):
    outputs = synthesis.template("AdTech")["Outputs"]
    assert {"AdServerRoleArn", "ProducerPolicyArn", "AdEventsStreamName", "PlacementApiUrl"} <= set(outputs)


# --- 2. the Flink job ----------------------------------------------------------------------

def test_the_job_reads_the_ad_events_and_writes_only_the_ctr_and_dead_letter_streams(resources):
    job = job_properties(resources)

    def arn(prefix: str) -> dict:
        return {"Fn::GetAtt": [logical(resources, "AWS::Kinesis::Stream", prefix), "Arn"]}

    assert job["source.stream.arn"] == arn("AdEventsStream")
    assert {k: v for k, v in job.items() if k.startswith("sink.")} == {
        "sink.ctr.stream.arn": arn("PlacementCtrStream"), "sink.deadletters.stream.arn": arn("DeadLettersStream")}


def test_the_job_takes_its_windows_from_the_settings_and_keeps_click_keys_past_the_attribution_window(tuned):
    job = job_properties(tuned)
    assert (job["attribution.minutes"], job["source.idle.timeout"]) == ("45", "30 s")
    ttl, unit = job["state.ttl"].split()
    assert unit == "min" and int(ttl) >= 2 * 45   # a click re-sent late is still recognised


def test_the_dead_letters_the_job_rejects_are_kept_a_week(resources):
    dead = resources[logical(resources, "AWS::Kinesis::Stream", "DeadLettersStream")]["Properties"]
    assert dead["RetentionPeriodHours"] == 7 * 24
    assert is_data_key(dead["StreamEncryption"]["KeyId"])


# --- 3. the updater --------------------------------------------------------------------------

def test_the_updater_consumes_the_ctr_stream_with_bisect_partial_failures_and_a_failure_queue(template, resources):
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [logical(resources, "AWS::Kinesis::Stream", "PlacementCtrStream"), "Arn"]},
        "FunctionName": {"Ref": logical(resources, "AWS::Lambda::Function", "UpdaterFunction")},
        "BisectBatchOnFunctionError": True, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "StartingPosition": "TRIM_HORIZON",   # from the oldest record: nothing before the mapping is skipped
        "DestinationConfig": {"OnFailure": {"Destination": {
            "Fn::GetAtt": [Match.string_like_regexp("^ConsumeCtrFailedBatches"), "Arn"]}}}})


def test_the_updater_retries_a_failing_batch_a_bounded_number_of_times(resources):
    (mapping,) = properties_of(resources, "AWS::Lambda::EventSourceMapping")
    assert mapping["MaximumRetryAttempts"] >= 0   # absent or -1 would retry until the record expires


def test_the_batch_size_setting_sizes_the_updaters_batches(tuned):
    (mapping,) = properties_of(tuned, "AWS::Lambda::EventSourceMapping")
    assert mapping["BatchSize"] == 40


def test_conditional_writes_are_allowed_only_on_the_placements_table(resources):
    table = {"Fn::GetAtt": [logical(resources, "AWS::DynamoDB::Table", "PlacementsTable"), "Arn"]}
    dynamodb = [s for s in statements(resources) if any(a.startswith("dynamodb:") for a in actions(s))]
    writes = [s for s in dynamodb if set(actions(s)) - {"dynamodb:GetItem"}]
    assert [(actions(s), s["Resource"]) for s in writes] == [(["dynamodb:UpdateItem"], table)]
    assert [(actions(s), s["Resource"]) for s in dynamodb if s not in writes] == [(["dynamodb:GetItem"], table)]
    managed = statements(resources, "AWS::IAM::ManagedPolicy")
    assert not [a for s in managed for a in actions(s) if a.startswith("dynamodb:")]


def test_the_placements_table_has_pitr_the_data_key_and_expires_what_the_updater_marks(resources):
    (table,) = properties_of(resources, "AWS::DynamoDB::Table")
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True and table["SSESpecification"]["SSEType"] == "KMS"
    assert is_data_key(table["SSESpecification"]["KMSMasterKeyId"])
    ttl = table["TimeToLiveSpecification"]
    store = load_lambda_module("placement_updater", "placement_store")
    assert ttl["Enabled"] is True and ttl["AttributeName"] in store.RankingWrite.__dataclass_fields__


def test_the_updater_gets_the_ranking_rules_from_the_settings(tuned):
    variables = function_variables(tuned, "UpdaterFunction")
    assert (variables["PRIOR_CTR"], variables["MIN_IMPRESSIONS"]) == ("0.02", "50")


# --- 4. the placement API ----------------------------------------------------------------------

def test_the_api_method_requires_iam_validates_parameters_and_proxies_to_the_function(template, resources):
    template.has_resource_properties("AWS::ApiGateway::Method", {
        "HttpMethod": "GET", "AuthorizationType": "AWS_IAM",
        "RequestParameters": {"method.request.path.placement_id": True, "method.request.querystring.candidates": False},
        "RequestValidatorId": Match.any_value(),
        "Integration": Match.object_like({"Type": "AWS_PROXY"})})
    template.has_resource_properties("AWS::ApiGateway::RequestValidator", {"ValidateRequestParameters": True})
    (method,) = properties_of(resources, "AWS::ApiGateway::Method")
    assert logical(resources, "AWS::Lambda::Function", "PlacementFunction") in json.dumps(method["Integration"]["Uri"])


def test_api_key_auth_requires_a_key_under_a_usage_plan_throttled_like_the_stage(tuned):
    (method,) = properties_of(tuned, "AWS::ApiGateway::Method")
    assert (method["AuthorizationType"], method["ApiKeyRequired"]) == ("NONE", True)
    (plan,) = properties_of(tuned, "AWS::ApiGateway::UsagePlan")
    assert plan["Throttle"] == {"BurstLimit": 80, "RateLimit": 50}
    assert properties_of(tuned, "AWS::ApiGateway::UsagePlanKey")


def test_the_stage_traces_and_writes_json_access_logs_to_a_group_encrypted_with_the_data_key(resources):
    stage = resources[logical(resources, "AWS::ApiGateway::Stage", "PlacementApi")]["Properties"]
    assert stage["TracingEnabled"] is True
    group_id = logical(resources, "AWS::Logs::LogGroup", "PlacementApiAccessLogs")
    assert group_id in json.dumps(stage["AccessLogSetting"]["DestinationArn"])
    assert json.loads(stage["AccessLogSetting"]["Format"])["status"] == "$context.status"
    assert is_data_key(resources[group_id]["Properties"]["KmsKeyId"])


def test_the_stage_throttles_at_the_rate_and_burst_settings(tuned):
    (stage,) = properties_of(tuned, "AWS::ApiGateway::Stage")
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 80)


def test_the_invoke_policy_names_only_the_get_method(resources):
    policy = resources[logical(resources, "AWS::IAM::ManagedPolicy", "PlacementApiInvokePolicy")]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert actions(statement) == ["execute-api:Invoke"]
    resource = json.dumps(statement["Resource"])
    assert resource.endswith('"/GET/placements/*/ad"]]}')
    assert logical(resources, "AWS::ApiGateway::Stage", "PlacementApiDeploymentStage") in resource


def test_the_decider_gets_exploration_fallback_and_cache_from_the_settings(tuned):
    variables = function_variables(tuned, "PlacementFunction")
    assert {k: variables[k] for k in ("EXPLORATION_SHARE", "FALLBACK_AD", "CACHE_SECONDS")} == {
        "EXPLORATION_SHARE": "0.25", "FALLBACK_AD": "promo-ad", "CACHE_SECONDS": "12"}


# --- 5. alarms -------------------------------------------------------------------------------

def test_every_part_of_the_loop_has_an_alarm(resources):
    # Which metrics each part alarms on is the constructs' business (and the snapshot's).
    watched = json.dumps([a.get("Dimensions") for a in properties_of(resources, "AWS::CloudWatch::Alarm")])
    parts = [("AWS::Kinesis::Stream", "AdEventsStream"), ("AWS::Kinesis::Stream", "DeadLettersStream"),
             ("AWS::KinesisAnalyticsV2::Application", "CtrJobApplication"),
             ("AWS::Lambda::Function", "UpdaterFunction"), ("AWS::SQS::Queue", "ConsumeCtrFailedBatches"),
             ("AWS::SQS::Queue", "UpdaterQuarantine"), ("AWS::Lambda::Function", "PlacementFunction")]
    for kind, prefix in parts:
        assert f'"{logical(resources, kind, prefix)}"' in watched, prefix
    (api,) = properties_of(resources, "AWS::ApiGateway::RestApi")
    assert json.dumps({"Name": "ApiName", "Value": api["Name"]}) in watched


def test_records_the_job_rejects_alarm_the_ops_topic_as_they_arrive(resources):
    # The dead-letter stream is the job's failure destination; that the job itself alarms when it
    # is down is test_monitoring.py's, for every Flink job.
    dead = {"Name": "StreamName", "Value": {"Ref": logical(resources, "AWS::Kinesis::Stream", "DeadLettersStream")}}
    assert_failure_alarm(resources, "AWS/Kinesis", "IncomingRecords", dead, fires="above", topic=ops_topic(resources))


def test_the_stale_window_alarm_reads_metrics_the_updater_publishes(resources):
    (stale,) = [a for a in properties_of(resources, "AWS::CloudWatch::Alarm") if "Metrics" in a]
    read = [m["MetricStat"]["Metric"] for m in stale["Metrics"] if "MetricStat" in m]
    updater = load_lambda_module("placement_updater", "placement_updater")
    source = (LAMBDA_ROOT / "placement_updater" / "placement_updater.py").read_text()
    assert read
    for metric in read:
        assert metric["Namespace"] == updater.metrics.namespace
        assert metric["Dimensions"] == [{"Name": "service", "Value": updater.metrics.service}]
        assert f'"{metric["MetricName"]}"' in source, metric["MetricName"]


def test_the_latency_alarm_fires_above_the_p99_setting(tuned):
    (latency,) = [a for a in properties_of(tuned, "AWS::CloudWatch::Alarm") if a.get("MetricName") == "Latency"]
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 250)


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


def test_prod_retains_the_placements_table_with_deletion_protection(prod_synthesis):
    (table,) = [r for r in prod_synthesis.template("AdTech")["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
