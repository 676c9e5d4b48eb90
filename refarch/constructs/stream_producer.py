"""Who may put records on a stream: a managed policy limited to that stream and its key, and a
role that producers in this account (ad servers, collectors) assume to get it."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct


class StreamProducerAccess(Construct):
    """`policy`: PutRecord(s) on `stream` (and the shard listing the KPL does), and the data key
    only as Kinesis uses it on the producer's behalf. `role`: assumable by principals of this
    account that are themselves allowed sts:AssumeRole on it."""

    def __init__(self, scope: Construct, id: str, *, stream: kinesis.IStream, key: kms.IKey,
                 description: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.policy = iam.ManagedPolicy(self, "Policy", description=f"{description}: put records on one stream")
        self.policy.add_statements(
            iam.PolicyStatement(sid="PutRecords", resources=[stream.stream_arn], actions=[
                "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards", "kinesis:DescribeStreamSummary"]),
            iam.PolicyStatement(sid="EncryptThroughKinesis", resources=[key.key_arn],
                                actions=["kms:GenerateDataKey"],
                                conditions={"StringEquals": {"kms:ViaService": f"kinesis.{stack.region}.amazonaws.com"}}))
        self.role = iam.Role(self, "Role", assumed_by=iam.AccountPrincipal(stack.account),
                             description=description, managed_policies=[self.policy])
