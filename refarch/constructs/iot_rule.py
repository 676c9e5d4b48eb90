"""IoT Core topic rule that forwards device messages into a Kinesis stream."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.nag import acknowledge, logical_id

ERROR_PREFIX = "iot-rule-errors"



class TopicRuleToStream(Construct):
    """Messages on `topic_filter` go to `stream`, partitioned by the topic segment that
    names the device; a message the rule cannot deliver is kept in `error_bucket`."""

    def __init__(self, scope: Construct, id: str, *, topic_filter: str, stream: kinesis.IStream,
                 error_bucket: s3.IBucket, device_segment: int = 2) -> None:
        super().__init__(scope, id)
        if "'" in topic_filter or not topic_filter:
            raise ValueError(f"TopicRuleToStream topic_filter={topic_filter!r}: a non-empty MQTT filter without quotes")
        if not 1 <= device_segment <= len(topic_filter.split("/")):
            raise ValueError(f"TopicRuleToStream device_segment={device_segment!r}: allowed 1 to "
                             f"{len(topic_filter.split('/'))} for {topic_filter!r}")
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
        # Explicit grants rather than grant_write/grant_put: the rule needs to put records
        # and error objects, nothing more (no wildcard action families).
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["kinesis:PutRecord", "kinesis:PutRecords"], resources=[stream.stream_arn]))
        error_objects = error_bucket.arn_for_objects(f"{ERROR_PREFIX}/*")
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[error_objects]))
        keys = [stream.encryption_key, error_bucket.encryption_key]
        for key in [k for i, k in enumerate(keys) if k is not None and k not in keys[:i]]:
            key.grant(self.role, "kms:GenerateDataKey")
        acknowledge(self.role, f"IAM5[Resource::<{logical_id(error_bucket)}.Arn>/{ERROR_PREFIX}/*]",
                    "Error objects are named per failed message (topic, time, uuid), so the "
                    "role may put objects under this one prefix of this one bucket only")
        self.rule = iot.CfnTopicRule(self, "Rule", topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
            sql=f"SELECT * FROM '{topic_filter}'",
            aws_iot_sql_version="2016-03-23",
            rule_disabled=False,
            actions=[iot.CfnTopicRule.ActionProperty(kinesis=iot.CfnTopicRule.KinesisActionProperty(
                stream_name=stream.stream_name, role_arn=self.role.role_arn,
                partition_key=f"${{topic({device_segment})}}"))],
            error_action=iot.CfnTopicRule.ActionProperty(s3=iot.CfnTopicRule.S3ActionProperty(
                bucket_name=error_bucket.bucket_name, role_arn=self.role.role_arn,
                key=f"{ERROR_PREFIX}/${{topic({device_segment})}}/${{timestamp()}}-${{newuuid()}}.json")),
        ))
        # IoT checks the role can act when the rule is created: its policy must exist first.
        self.rule.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
