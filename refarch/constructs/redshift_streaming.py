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

from aws_cdk import CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from refarch.constructs.checkov import CONCURRENCY, DLQ, IN_VPC, skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge, rendered

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
        self._acknowledge_provider(setup_function_arn)

    def _acknowledge_provider(self, setup_arn: str) -> None:
        framework = self.provider.node.find_child("framework-onEvent")
        acknowledge(framework, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]", "aws-cdk-lib's provider framework writes its own logs "
                    "with the managed basic execution policy, during deploys only")
        resolved = Stack.of(self).resolve(setup_arn)   # cdk-nag names an imported ARN by its export
        named = resolved["Fn::ImportValue"] if isinstance(resolved, dict) and "Fn::ImportValue" in resolved \
            else rendered(self, setup_arn)
        acknowledge(framework, f"IAM5[Resource::{named}:*]",
                    "aws-cdk-lib's provider framework may invoke any version of the warehouse's one setup function")
        acknowledge(framework, "L1", "aws-cdk-lib's provider framework picks its own Node.js runtime; it "
                    "runs only during deploys and moves with aws-cdk-lib upgrades")
        skip_check(framework, DLQ, "aws-cdk-lib's provider framework is invoked by CloudFormation, which "
                   "reports a failure as a failed deployment")
        skip_check(framework, IN_VPC, "aws-cdk-lib's provider framework only answers CloudFormation and invokes "
                   "the setup function; the setup function is the one in the VPC")
        skip_check(framework, "CKV_AWS_173", "aws-cdk-lib's provider framework's environment holds only the name "
                   "of the function it invokes, nothing secret to encrypt")
        skip_check(framework, CONCURRENCY, "aws-cdk-lib's provider framework runs once per custom-resource event")

