"""Python Lambda functions with the project's defaults: Powertools layer, encrypted
logs with retention, encrypted environment, a role that may only write its own logs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge
from refarch.constructs.staging import source_files, stage

RUNTIME = lambda_.Runtime.PYTHON_3_13
# The AWS-managed Powertools layer (published by AWS in every commercial region).
POWERTOOLS_LAYER = "arn:{partition}:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:{version}"
DEFAULT_POWERTOOLS_LAYER_VERSION = 27


def stage_asset(source: Path, extra_folders: Mapping[str, Path]) -> Path:
    """`source`, plus each extra folder copied in under its name (e.g. the SQL a function
    runs, kept in one place in the repository)."""
    if not extra_folders:
        return source
    files = source_files(source)
    for name, folder in sorted(extra_folders.items()):
        files += source_files(folder, Path(name))
    return stage(source.name, files)


class PythonFunction(Construct):
    """A function from one folder under lambda/, its handler `<module>.handler`."""

    def __init__(self, scope: Construct, id: str, *, source: Path, handler: str, key: kms.IKey,
                 log_retention_days: int, removal_policy: RemovalPolicy,
                 environment: Mapping[str, str] | None = None, memory_mb: int = 512,
                 timeout: Duration = Duration.seconds(60), vpc: ec2.IVpc | None = None,
                 vpc_subnets: ec2.SubnetSelection | None = None,
                 powertools_layer_version: int = DEFAULT_POWERTOOLS_LAYER_VERSION,
                 extra_folders: Mapping[str, Path] | None = None,
                 reserved_concurrency: int | None = None) -> None:
        super().__init__(scope, id)
        if not source.is_dir():
            raise ValueError(f"PythonFunction source={source}: not a folder")
        if not 128 <= memory_mb <= 10240:
            raise ValueError(f"PythonFunction memory_mb={memory_mb!r}: allowed 128 to 10240")
        if reserved_concurrency is not None and not 1 <= reserved_concurrency <= 1000:
            raise ValueError(f"PythonFunction reserved_concurrency={reserved_concurrency!r}: allowed 1 to 1000")
        stack = Stack.of(self)
        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        # Own role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        layer = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", POWERTOOLS_LAYER.format(
            partition=stack.partition, region=stack.region, version=powertools_layer_version))
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME, architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(stage_asset(source, extra_folders or {})),
                                         exclude=["__pycache__", "*.pyc"]),
            handler=handler, role=self.role, layers=[layer],
            memory_size=memory_mb, timeout=timeout, reserved_concurrent_executions=reserved_concurrency,
            environment={"POWERTOOLS_SERVICE_NAME": id, "POWERTOOLS_METRICS_NAMESPACE": "refarch",
                         **(environment or {})},
            environment_encryption=key,
            log_group=self.log_group, logging_format=lambda_.LoggingFormat.JSON,
            vpc=vpc, vpc_subnets=vpc_subnets,
        )
        acknowledge(self.function, "L1",
                    "python3.13 matches the pinned AWS-managed Powertools layer "
                    "(AWSLambdaPowertoolsPythonV3-python313); both move together when the "
                    "layer version setting is raised, and python3.13 is a supported runtime")
        if vpc is not None:
            acknowledge(self.role, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
                        "AWS-managed policy holding only the network-interface permissions Lambda "
                        "needs to attach the function to the isolated VPC; AWS maintains it")
