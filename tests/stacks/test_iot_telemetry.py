"""IotTelemetry: what the synthesized template promises."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

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
        "StreamEncryption": {"EncryptionType": "KMS", "KeyId": DATA_KEY_OUTPUT},
        "RetentionPeriodHours": 168,   # a week to replay failed batches (refarch replay)
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "ShardCount": 1,
    })


def test_mapping_bisects_retries_ages_out_and_reports_item_failures_to_a_destination(template):
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": {
            "Fn::GetAtt": [Match.string_like_regexp("^ConsumeFailedBatches"), "Arn"]}}},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
    })


def test_failure_destination_and_quarantine_queues_are_encrypted_with_the_data_key(template):
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"]["Fn::ImportValue"].startswith(
            "refarch-dev-SecurityBaseline:ExportsOutputFnGetAttDataKey")


def test_table_has_pitr_ttl_keys_and_the_baseline_key(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "device_id", "KeyType": "HASH"},
                      {"AttributeName": "ts", "KeyType": "RANGE"}],
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": DATA_KEY_OUTPUT},
        "BillingMode": "PAY_PER_REQUEST",
    })


def test_topic_rule_sends_device_telemetry_to_the_stream_keyed_by_device(template):
    rule = only(template, "AWS::IoT::TopicRule")["Properties"]["TopicRulePayload"]
    assert rule["Sql"] == "SELECT * FROM 'devices/+/telemetry'"
    (action,) = rule["Actions"]
    assert action["Kinesis"]["StreamName"] == {"Ref": template_stream_id(template)}
    assert action["Kinesis"]["PartitionKey"] == "${topic(2)}"


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


def test_writer_runs_in_the_isolated_vpc_with_its_configuration(template):
    writer = next(r for k, r in template.find_resources("AWS::Lambda::Function").items()
                  if k.startswith("Writer"))
    props = writer["Properties"]
    assert props["Handler"] == "iot_writer.handler"
    assert props["Runtime"] == "python3.13"
    (layer,) = props["Layers"]  # the Powertools layer, from its public SSM parameter
    assert template.to_json()["Parameters"][layer["Ref"]]["Default"] == (
        "/aws/service/powertools/python/x86_64/python3.13/3.37.0")
    assert len(props["VpcConfig"]["SubnetIds"]) == 2
    env = props["Environment"]["Variables"]
    assert json.loads(env["ALERT_RULES"]) == [{"metric": "temperature", "op": ">", "value": 80.0},
                                          {"metric": "battery", "op": "<", "value": 10.0}]
    assert env["TTL_DAYS"] == "30"
    assert set(env) >= {"TABLE_NAME", "QUARANTINE_QUEUE_URL", "ALERT_TOPIC_ARN"}


def test_alarms_cover_lag_failures_errors_throttles_quarantine_and_rule_errors_and_notify_ops(template):
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms.values())
    assert metrics == ["ApproximateAgeOfOldestMessage", "Errors", "Failure", "IteratorAge", "NumberOfMessagesSent",
                       "NumberOfMessagesSent", "Throttles"]
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": ops_topic_id(template)}]


def test_dashboard_shows_ingest_lag_writer_throttles_and_alerts(template):
    body = json.dumps(only(template, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for needle in ("IncomingRecords", "IteratorAge", "Duration", "Errors", "WriteThrottleEvents",
                   "NumberOfMessagesPublished", "ApproximateNumberOfMessagesVisible"):
        assert needle in body


def test_alert_and_ops_topics_are_encrypted_and_tls_only(template):
    topics = template.find_resources("AWS::SNS::Topic")
    assert len(topics) == 2
    for topic in topics.values():
        assert "Fn::ImportValue" in topic["Properties"]["KmsMasterKeyId"]
    for policy in template.find_resources("AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)


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


def ops_topic_id(template: Template) -> str:
    return next(k for k in template.find_resources("AWS::SNS::Topic") if k.startswith("OpsTopic"))
