"""aws-cdk-lib's own provider functions log to an encrypted log group with a retention.

The singleton providers CDK adds for features such as auto-deleting a dev bucket's objects
or emptying the default security group are plain `AWS::Lambda::Function` resources without
a logging configuration: Lambda would create `/aws/lambda/<name>` unencrypted and keep it
forever. Each is pointed at the stack's `CustomResourceLogs` group instead (the one the
AwsCustomResource provider of a Flink starter uses too).
"""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from refarch.constructs.logs import encrypted_log_group

LOG_GROUP_ID = "CustomResourceLogs"


def log_cdk_providers(stack: Stack, *, key: kms.IKey, retention_days: int,
                      removal_policy: RemovalPolicy) -> list[CfnResource]:
    """Send the logs of every CDK provider function in `stack` to its encrypted log group;
    returns the provider functions it configured."""
    handlers = [handler for child in stack.node.children
                if child.node.id.endswith("CustomResourceProvider")
                and isinstance(handler := child.node.try_find_child("Handler"), CfnResource)
                and handler.cfn_resource_type == "AWS::Lambda::Function"]
    if not handlers:
        return []
    group = stack.node.try_find_child(LOG_GROUP_ID) or encrypted_log_group(
        stack, LOG_GROUP_ID, key=key, retention_days=retention_days, removal_policy=removal_policy)
    assert isinstance(group, logs.LogGroup)
    for handler in handlers:
        handler.add_property_override("LoggingConfig", {"LogGroup": group.log_group_name})
    return handlers
