"""IotTelemetry's failed batches stay replayable for a week, and an alarm warns before they expire."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from refarch.config import SettingError, settings_from_context
from refarch.constructs.stream_consumer import StreamConsumer

HOUR = 3600


@pytest.fixture(scope="module")
def template(synthesis) -> dict:
    return synthesis.template("IotTelemetry")


def resources(template: dict, kind: str) -> dict:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_defaults_leave_an_operator_six_days_and_23_hours_to_replay(template):
    [stream] = resources(template, "AWS::Kinesis::Stream").values()
    [mapping] = resources(template, "AWS::Lambda::EventSourceMapping").values()
    retention = stream["Properties"]["RetentionPeriodHours"] * HOUR
    max_age = mapping["Properties"]["MaximumRecordAgeInSeconds"]
    assert (retention, max_age) == (168 * HOUR, 1 * HOUR)
    assert retention - max_age == 167 * HOUR >= 24 * HOUR


def test_an_alarm_fires_when_the_oldest_failed_batch_has_a_day_left(template):
    [alarm] = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
               if a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"]
    [(queue_id, _)] = [(n, q) for n, q in resources(template, "AWS::SQS::Queue").items() if "FailedBatches" in n]
    assert alarm["Threshold"] == (167 - 24) * HOUR
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")   # the oldest batch
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert "refarch replay" in alarm["AlarmDescription"]


def test_the_stack_publishes_what_refarch_replay_reads(template):
    outputs = template["Outputs"]
    assert {"FailedBatchesQueueUrl", "ConsumerFunctionName", "ConsumedStreamName"} <= set(outputs)


def test_a_retention_that_leaves_less_than_a_day_fails_at_synth_naming_the_setting():
    with pytest.raises(SettingError, match=r"invalid setting iot_retention_hours='24': allowed 25 to 8760 hours"):
        settings_from_context({"iot_retention_hours": "24"})
    assert settings_from_context({"iot_retention_hours": "25"}).iot.retention_hours == 25


def test_the_consumer_refuses_a_replay_window_under_a_day():
    stack = Stack(App(), "Consumer")
    key = kms.Key(stack, "Key")
    stream = kinesis.Stream(stack, "Stream")
    function = lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="x.handler",
                                code=lambda_.Code.from_inline("def handler(e, c): pass"))
    with pytest.raises(ValueError, match="leaves 23 h to replay a failed batch: allowed a retention of at least 25 h"):
        StreamConsumer(stack, "C", stream=stream, function=function, key=key, stream_retention=Duration.hours(24),
                       min_replay_window=Duration.days(1))
    consumer = StreamConsumer(stack, "Ok", stream=stream, function=function, key=key,
                              stream_retention=Duration.hours(25), min_replay_window=Duration.days(1))
    assert consumer.replay_window.to_hours() == 24
    alarm = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm", {
        "Properties": {"MetricName": "ApproximateAgeOfOldestMessage"}})
    assert [a["Properties"]["Threshold"] for a in alarm.values()] == [12 * HOUR]   # half of a one-day window


def test_the_consumer_reads_the_retention_of_a_stream_of_this_app():
    stack = Stack(App(), "Inferred")
    key = kms.Key(stack, "Key")
    function = lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="x.handler",
                                code=lambda_.Code.from_inline("def handler(e, c): pass"))
    week = kinesis.Stream(stack, "Week", retention_period=Duration.hours(168))
    default = kinesis.Stream(stack, "Default")
    assert StreamConsumer(stack, "A", stream=week, function=function, key=key).replay_window.to_hours() == 167
    assert StreamConsumer(stack, "B", stream=default, function=function, key=key).replay_window.to_hours() == 23
