"""Customer-managed KMS keys that AWS services are allowed to use."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Services that encrypt with a key on a caller's behalf (alarm -> encrypted topic,
# topic -> encrypted queue, event -> encrypted target), and whether their KMS requests
# carry aws:SourceAccount. EventBridge's do not: conditioning on it would drop every
# event silently, so that grant stays unconditioned.
SERVICE_PRINCIPALS = {
    "cloudwatch": ("cloudwatch.amazonaws.com", True),
    "sns": ("sns.amazonaws.com", True),
    "s3": ("s3.amazonaws.com", True),
    "events": ("events.amazonaws.com", False),
}
CLOUDTRAIL = "cloudtrail"   # trails of this account encrypting log files (statements of their own)


class EncryptionKey(Construct):
    """A symmetric KMS key with yearly rotation, an alias and service grants.

    CloudWatch Logs is always allowed (every log group here is encrypted), restricted
    to log groups of this account and region by the encryption context. `services` names
    the other services allowed: any of SERVICE_PRINCIPALS, and "cloudtrail".
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, description: str,
                 services: Sequence[str] = (), removal_policy: RemovalPolicy,
                 pending_window: Duration = Duration.days(30)) -> None:
        super().__init__(scope, id)
        unknown = sorted(set(services) - set(SERVICE_PRINCIPALS) - {CLOUDTRAIL})
        if unknown:
            raise ValueError(f"EncryptionKey services: unknown {unknown}; "
                             f"allowed {sorted([*SERVICE_PRINCIPALS, CLOUDTRAIL])}")
        stack = Stack.of(self)
        self.key = kms.Key(self, "Key", alias=alias, description=description,
                           enable_key_rotation=True, removal_policy=removal_policy,
                           pending_window=pending_window)
        self._allow_cloudwatch_logs(stack)
        for service in services:
            if service == CLOUDTRAIL:
                self.allow_cloudtrail()
            else:
                self._allow_service(stack, service)

    def _allow_cloudwatch_logs(self, stack: Stack) -> None:
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                     "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"}},
        ))

    def _allow_service(self, stack: Stack, service: str) -> None:
        principal, carries_source_account = SERVICE_PRINCIPALS[service]
        statement = iam.PolicyStatement(
            sid=f"Allow{service.capitalize()}ToUseTheKey",
            principals=[iam.ServicePrincipal(principal)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
        if carries_source_account:  # only on behalf of this account's resources
            statement.add_condition("StringEquals", {"aws:SourceAccount": stack.account})
        self.key.add_to_resource_policy(statement)

    def allow_cloudtrail(self) -> None:
        """Let trails of this account encrypt log files with the key and describe it."""
        stack = Stack.of(self)
        cloudtrail = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudTrailToEncryptLogFiles",
            principals=[cloudtrail],
            actions=["kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                               f"arn:{stack.partition}:cloudtrail:*:{stack.account}:trail/*"},
            },
        ))
        # DescribeKey carries no encryption context, so it gets a statement of its own.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudTrailToDescribeKey",
            principals=[cloudtrail],
            actions=["kms:DescribeKey"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        ))
