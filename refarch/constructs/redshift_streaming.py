"""Redshift streaming ingestion of a Kinesis stream into an existing warehouse.

The warehouse's streaming-ingestion role is allowed to read exactly `stream` (the policy
lives here, with the stream it grants); then, once, when this is created, the warehouse's
setup function (the one that runs its admin DDL, as the admin user; not the loader, whose
database user may not create schemas) runs the streaming setup SQL (external schema FROM
KINESIS, the auto-refreshing materialized view), through CDK's provider framework so a
failed statement fails the deploy.
Firehose cannot deliver to a private cluster with enhanced VPC routing; streaming ingestion
reads the stream from inside the VPC, through its Kinesis endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CustomResource, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge
from refarch.constructs.provider_framework import acknowledge_provider_framework

READ_STREAM = ("kinesis:DescribeStreamSummary", "kinesis:DescribeStream", "kinesis:GetShardIterator",
               "kinesis:GetRecords", "kinesis:ListShards")


class RedshiftStreamingIngestion(Construct):
    def __init__(self, scope: Construct, id: str, *, stream: kinesis.IStream, key: kms.IKey,
                 ingestion_role_arn: str, setup_function_arn: str, variables: Mapping[str, str],
                 log_retention_days: int, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        role = iam.Role.from_role_arn(self, "IngestionRole", ingestion_role_arn, mutable=True)
        self.policy = iam.Policy(self, "ReadStream", roles=[role], statements=[
            iam.PolicyStatement(actions=list(READ_STREAM), resources=[stream.stream_arn]),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
            # Redshift lists the account's streams to resolve the external schema's tables; the
            # call names streams and reads no record.
            iam.PolicyStatement(actions=["kinesis:ListStreams"], resources=["*"])])
        acknowledge(self.policy, "IAM5[Resource::*]", "kinesis:ListStreams takes no resource ARN; it names "
                    "streams and reads no record (reading is granted on the one clean stream only)")
        setup = lambda_.Function.from_function_attributes(self, "SetupFunction", function_arn=setup_function_arn,
                                                        skip_permissions=True)   # same account: its role policy suffices
        self.log_group = encrypted_log_group(self, "ProviderLogs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        self.provider = cr.Provider(self, "Provider", on_event_handler=setup, log_group=self.log_group)
        self.setup = CustomResource(self, "Setup", service_token=self.provider.service_token,
                                    resource_type="Custom::RedshiftStreamingSetup",
                                    properties={"Streaming": dict(variables)})
        # The view's first refresh reads the stream: the role must be allowed first.
        self.setup.node.add_dependency(self.policy)
        acknowledge_provider_framework(self.provider, handler_arn=setup_function_arn,
                                       handler="the warehouse's one setup function")
