"""Python Lambda functions with the project's defaults: Powertools layer, encrypted
logs with retention, encrypted environment, a role that may only write its own logs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge
from refarch.constructs.staging import source_files, stage, staging_root

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
# A Powertools for AWS Lambda (Python) release; keep it equal to the dev pin in pyproject.toml,
# the version the tests run the handlers on.
DEFAULT_POWERTOOLS_LAYER_VERSION = "3.37.0"


def powertools_layer_parameter_name(version: str) -> str:
    """The public SSM parameter holding the ARN of the AWS-managed Powertools layer of
    `version` (for this runtime and architecture). Powertools publishes it in every region
    it publishes the layer in, so the ARN resolves at deploy time in any partition, instead
    of being built from one account of the `aws` partition."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


def powertools_layer_name() -> str:
    """The name of the AWS-managed layer the parameter points at, for this runtime."""
    return f"AWSLambdaPowertoolsPythonV3-{RUNTIME.name.replace('.', '')}-{ARCHITECTURE.name}"


def stage_asset(scope: Construct, source: Path, extra_folders: Mapping[str, Path]) -> Path:
    """`source`, plus each extra folder copied in under its name (e.g. the SQL a function
    runs, kept in one place in the repository), staged in the app's output folder."""
    if not extra_folders:
        return source
    files = source_files(source)
    for name, folder in sorted(extra_folders.items()):
        files += source_files(folder, Path(name))
    return stage(source.name, files, root=staging_root(scope))


class PythonFunction(Construct):
    """A function whose code is the folder `source` (its handler e.g. `<module>.handler`),
    plus `extra_folders` copied in under their names."""

    def __init__(self, scope: Construct, id: str, *, source: Path, handler: str, key: kms.IKey,
                 log_retention_days: int, removal_policy: RemovalPolicy,
                 environment: Mapping[str, str] | None = None, memory_mb: int = 512,
                 timeout: Duration = Duration.seconds(60), vpc: ec2.IVpc | None = None,
                 vpc_subnets: ec2.SubnetSelection | None = None,
                 powertools_layer_version: str = DEFAULT_POWERTOOLS_LAYER_VERSION,
                 extra_folders: Mapping[str, Path] | None = None,
                 reserved_concurrency: int | None = None) -> None:
        super().__init__(scope, id)
        if not source.is_dir():
            raise ValueError(f"PythonFunction source={source}: not a folder")
        if not 128 <= memory_mb <= 10240:
            raise ValueError(f"PythonFunction memory_mb={memory_mb!r}: allowed 128 to 10240")
        if reserved_concurrency is not None and not 1 <= reserved_concurrency <= 1000:
            raise ValueError(f"PythonFunction reserved_concurrency={reserved_concurrency!r}: allowed 1 to 1000")
        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        # Own role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        # One stack parameter per version (CDK shares it between the stack's functions).
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", ssm.StringParameter.value_for_string_parameter(
                self, powertools_layer_parameter_name(powertools_layer_version)))
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME, architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(stage_asset(self, source, extra_folders or {})),
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
