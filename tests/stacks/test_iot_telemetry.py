"""IotTelemetry: what the synthesized template promises.

The stream's retention and the mapping's record age are test_replay_window.py's, the Powertools
layer is test_powertools_layer.py's, alarm notification and dashboards are test_monitoring.py's;
batch size, runtime, handler, billing mode and the exact alarm list stay in the snapshot.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from refarch.config import IotSettings
from refarch.lambda_code import load_lambda_module
from refarch.patterns import BASELINE
from refarch.synthesis import synthesize
from tests.conftest import NO_AWS_ENV

DATA_KEY_OUTPUT = Match.object_like({
    "Fn::ImportValue": Match.string_like_regexp("^refarch-dev-SecurityBaseline:ExportsOutput.*DataKey")})


@pytest.fixture(scope="module")
def template(synthesis) -> Template:
    return Template.from_json(synthesis.template("IotTelemetry"))


def only(template: Template, kind: str) -> dict:
    (resource,) = template.find_resources(kind).values()
    return resource


def test_stream_is_encrypted_with_the_baseline_data_key(template):
    template.has_resource_properties("AWS::Kinesis::Stream", {
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": DATA_KEY_OUTPUT}})


def test_mapping_bisects_and_reports_item_failures_with_a_failure_destination(template):
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [template_stream_id(template), "Arn"]},
        "FunctionName": {"Ref": writer_id(template)},
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": {
            "Fn::GetAtt": [Match.string_like_regexp("^ConsumeFailedBatches"), "Arn"]}}},
        "StartingPosition": "TRIM_HORIZON",   # from the oldest record: nothing before the mapping is skipped
    })


def test_the_writer_retries_a_failing_batch_a_bounded_number_of_times(template):
    mapping = only(template, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert mapping["MaximumRetryAttempts"] >= 0   # absent or -1 would retry until the record expires


def test_every_queue_is_encrypted_with_the_data_key(template):
    queues = template.find_resources("AWS::SQS::Queue")
    assert queues   # the failure destination and the quarantine
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"]["Fn::ImportValue"].startswith(
            "refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey")


def test_table_has_pitr_the_baseline_key_and_expires_readings_by_the_attribute_the_writer_sets(template):
    writer = load_lambda_module("iot_writer", "iot_writer_aws")
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": writer.TTL_ATTRIBUTE, "Enabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": DATA_KEY_OUTPUT},
    })


def test_topic_rule_sends_what_devices_publish_on_the_output_topic_to_the_stream_keyed_by_device(template):
    rule = only(template, "AWS::IoT::TopicRule")["Properties"]["TopicRulePayload"]
    topic_filter = template.to_json()["Outputs"]["TopicFilter"]["Value"]
    assert rule["Sql"] == f"SELECT * FROM '{topic_filter}'"
    (action,) = rule["Actions"]
    assert action["Kinesis"]["StreamName"] == {"Ref": template_stream_id(template)}
    device_segment = topic_filter.split("/").index("+") + 1   # devices/<device>/telemetry
    assert action["Kinesis"]["PartitionKey"] == f"${{topic({device_segment})}}"


def test_topic_rule_keeps_undeliverable_messages_in_s3(template):
    rule = only(template, "AWS::IoT::TopicRule")["Properties"]["TopicRulePayload"]
    error = rule["ErrorAction"]["S3"]
    assert error["BucketName"]["Ref"].startswith("RuleErrors")
    assert error["Key"].startswith("iot-rule-errors/${topic(2)}/")


def test_topic_rule_role_may_only_put_records_and_error_objects(template):
    policies = template.find_resources("AWS::IAM::Policy")
    (rule_policy,) = [p for k, p in policies.items() if k.startswith("DeviceTopicRule")]
    actions = sorted(a for s in rule_policy["Properties"]["PolicyDocument"]["Statement"]
                     for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    assert actions == ["kinesis:PutRecord", "kinesis:PutRecords", "kms:GenerateDataKey", "s3:PutObject"]


def test_the_writer_runs_in_the_baseline_isolated_subnets(synthesis, template):
    baseline = synthesis.template(BASELINE)
    subnets = {k for k, r in baseline["Resources"].items() if r["Type"] == "AWS::EC2::Subnet"}
    isolated = {o["Export"]["Name"] for o in baseline["Outputs"].values()
                if "Export" in o and o["Value"].get("Ref") in subnets}
    props = template.find_resources("AWS::Lambda::Function")[writer_id(template)]["Properties"]
    assert isolated and {s["Fn::ImportValue"] for s in props["VpcConfig"]["SubnetIds"]} == isolated


def test_the_writer_is_given_its_table_queue_topic_and_the_alert_settings(template):
    env = template.find_resources("AWS::Lambda::Function")[writer_id(template)]["Properties"]["Environment"]["Variables"]

    def ref(kind: str, prefix: str) -> dict:
        (logical_id,) = [k for k in template.find_resources(kind) if k.startswith(prefix)]
        return {"Ref": logical_id}

    assert env["TABLE_NAME"] == ref("AWS::DynamoDB::Table", "Readings")
    assert env["QUARANTINE_QUEUE_URL"] == ref("AWS::SQS::Queue", "Quarantine")
    assert env["ALERT_TOPIC_ARN"] == ref("AWS::SNS::Topic", "Alerts")
    defaults = IotSettings()   # the settings the session's app is synthesized with
    assert json.loads(env["ALERT_RULES"]) == [{"metric": m, "op": op, "value": v} for m, op, v in defaults.alert_rules]
    assert env["TTL_DAYS"] == str(defaults.ttl_days)


def test_every_part_of_the_data_path_has_an_alarm(template):
    # Which metrics each part alarms on is the constructs' business (and the snapshot's).
    alarms = template.find_resources("AWS::CloudWatch::Alarm").values()
    watched = json.dumps([a["Properties"]["Dimensions"] for a in alarms])
    parts = [writer_id(template), *template.find_resources("AWS::SQS::Queue"),
             *template.find_resources("AWS::IoT::TopicRule")]
    for logical_id in parts:
        assert f'"{logical_id}"' in watched, logical_id


def test_every_topic_is_encrypted_with_the_data_key_and_tls_only(template):
    topics = template.find_resources("AWS::SNS::Topic")
    assert topics   # the device alerts and the ops topic
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"]["Fn::ImportValue"].startswith(
            "refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey")
    tls_only = {t["Ref"] for policy in template.find_resources("AWS::SNS::TopicPolicy").values()
                if any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                       for s in policy["Properties"]["PolicyDocument"]["Statement"])
                for t in policy["Properties"]["Topics"]}
    assert tls_only == set(topics)


def test_expected_load_sizes_the_stream(tmp_path):
    # 3,000 records/s of 1 KB read by 2 consumers: max(3.0, 3.0, 3.0) -> 3 shards
    result = synthesize({"patterns": "IotTelemetry", "iot_records_per_second": "3000",
                         "iot_record_size_kb": "1", "iot_consumers": "2"},
                        outdir=str(tmp_path), environ=NO_AWS_ENV, gates=False)
    stream = only(Template.from_json(result.template("IotTelemetry")), "AWS::Kinesis::Stream")
    assert stream["Properties"]["ShardCount"] == 3


def test_on_demand_stream_has_no_shard_count(tmp_path):
    result = synthesize({"patterns": "IotTelemetry", "iot_stream_mode": "on-demand"},
                        outdir=str(tmp_path), environ=NO_AWS_ENV, gates=False)
    stream = only(Template.from_json(result.template("IotTelemetry")), "AWS::Kinesis::Stream")
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert "ShardCount" not in stream["Properties"]


def test_prod_retains_the_table_with_deletion_protection(prod_synthesis):
    table = only(Template.from_json(prod_synthesis.template("IotTelemetry")), "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def template_stream_id(template: Template) -> str:
    (stream_id,) = template.find_resources("AWS::Kinesis::Stream")
    return stream_id


def writer_id(template: Template) -> str:
    (function_id,) = [k for k in template.find_resources("AWS::Lambda::Function") if k.startswith("WriterFunction")]
    return function_id
