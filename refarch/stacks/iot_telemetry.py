"""IotTelemetry: IoT Core -> Kinesis -> Lambda -> DynamoDB, with alerts and a dashboard."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.config import IotSettings
from refarch.constructs.alarms import FIVE_MINUTES, alarm_when, ops_topic
from refarch.constructs.checkov import CONCURRENCY, DLQ, skip_check
from refarch.constructs.buckets import expire_after, secure_bucket
from refarch.constructs.iot_rule import TopicRuleToStream
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.nag import acknowledge
from refarch.constructs.python_function import PythonFunction
from refarch.constructs.stream import EncryptedStream
from refarch.constructs.stream_consumer import StreamConsumer
from refarch.constructs.telemetry_table import TelemetryTable
from refarch.constructs.outputs import add_outputs
from refarch.paths import LAMBDA_ROOT

TOPIC_FILTER = "devices/+/telemetry"
RULE_ERROR_DAYS = 90


class IotTelemetryStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: IotSettings, data_key: kms.IKey,
                 vpc: ec2.IVpc, access_logs: s3.IBucket, retain_data: bool,
                 log_retention_days: int, powertools_layer_version: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)
        self.stream = EncryptedStream(self, "Telemetry", key=data_key, shards=settings.shards,
                                      retention_hours=settings.retention_hours).stream
        self.table = TelemetryTable(self, "Readings", key=data_key, removal_policy=removal).table
        self.alert_topic = sns.Topic(self, "Alerts", master_key=data_key, enforce_ssl=True,
                                     display_name="refarch telemetry threshold alerts")
        # Malformed readings wait here with their reason; they are never retried.
        self.quarantine = sqs.Queue(self, "Quarantine", encryption=sqs.QueueEncryption.KMS,
                                    encryption_master_key=data_key, enforce_ssl=True,
                                    retention_period=Duration.days(14))
        acknowledge(self.quarantine, "SQS3", "The quarantine is the terminal place for malformed "
                    "readings, kept with their reason for inspection; nothing consumes it to fail again")

        writer = PythonFunction(
            self, "Writer", source=LAMBDA_ROOT / "iot_writer", handler="iot_writer.handler",
            key=data_key, log_retention_days=log_retention_days, removal_policy=removal,
            vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            powertools_layer_version=powertools_layer_version, timeout=Duration.seconds(120),
            environment={
                "TABLE_NAME": self.table.table_name,
                "QUARANTINE_QUEUE_URL": self.quarantine.queue_url,
                "ALERT_TOPIC_ARN": self.alert_topic.topic_arn,
                "ALERT_RULES": json.dumps([{"metric": m, "op": op, "value": v}
                                           for m, op, v in settings.alert_rules]),
                "TTL_DAYS": str(settings.ttl_days),
            })
        self.writer = writer.function
        skip_check(self.writer, DLQ, "Invoked only by the Kinesis event source mapping, whose "
                   "on-failure queue (with an alarm) keeps failed batches; a function DLQ applies to async calls")
        skip_check(self.writer, CONCURRENCY, "The event source mapping bounds it to one concurrent "
                   "batch per shard, and the shard count is sized from the expected load")
        # Exactly what the writer calls: no Scan/Query/Delete, no KMS action families.
        writer.role.add_to_policy(iam.PolicyStatement(
            actions=["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"], resources=[self.table.table_arn]))
        writer.role.add_to_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.quarantine.queue_arn]))
        writer.role.add_to_policy(iam.PolicyStatement(
            actions=["sns:Publish"], resources=[self.alert_topic.topic_arn]))
        data_key.grant(writer.role, "kms:Decrypt", "kms:GenerateDataKey")

        self.consumer = StreamConsumer(self, "Consume", stream=self.stream, function=self.writer,
                                       key=data_key, stream_retention=Duration.hours(settings.retention_hours),
                                       min_replay_window=Duration.days(1), batch_size=settings.batch_size,
                                       alarm_topic=self.ops_topic)
        # The logical id the mapping had when CDK put it under the function: Lambda allows one
        # mapping per stream and function, and a new id would have an update create a second first.
        self.consumer.mapping.override_logical_id(
            "WriterFunctionKinesisEventSourceIotTelemetryStreamE4E8FF980AAAEA33")
        self.quarantine_alarm = alarm_when(
            self, "QuarantinedReadings", topic=self.ops_topic, above=0,
            metric=self.quarantine.metric_number_of_messages_sent(period=FIVE_MINUTES, statistic="Sum"),
            description="Malformed readings were quarantined")

        # Messages the rule could not put on the stream: re-drive or inspect them within 90 days.
        rule_errors = secure_bucket(self, "RuleErrors", key=data_key, access_logs=access_logs,
                                    retain=retain_data, retention=f"expire after {RULE_ERROR_DAYS} days",
                                    lifecycle_rules=[expire_after(RULE_ERROR_DAYS, rule_id="ExpireRuleErrors")])
        self.rule = TopicRuleToStream(self, "DeviceTopicRule", topic_filter=TOPIC_FILTER,
                                      stream=self.stream, error_bucket=rule_errors)
        # Messages the rule could not put on the stream went to the error bucket.
        self.rule_errors_alarm = alarm_when(
            self, "RuleActionFailures", topic=self.ops_topic, above=0,
            metric=cloudwatch.Metric(namespace="AWS/IoT", metric_name="Failure", statistic="Sum",
                                     period=FIVE_MINUTES,
                                     dimensions_map={"RuleName": self.rule.rule.ref, "ActionType": "Kinesis"}),
            description="The topic rule failed to put messages on the stream; they are in the rule-errors bucket")
        add_outputs(self, {
            "StreamName": self.stream.stream_name, "TableName": self.table.table_name,
            "QuarantineQueueUrl": self.quarantine.queue_url, "AlertTopicArn": self.alert_topic.topic_arn,
            "TopicFilter": TOPIC_FILTER,
            "AlertRules": json.dumps([{"metric": m, "op": op, "value": v} for m, op, v in settings.alert_rules]),
            **self.consumer.outputs(),   # what `refarch replay IotTelemetry` reads
        })
