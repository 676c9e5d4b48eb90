"""cdk-nag acknowledgements with reasons, in one place per kind of finding."""

import json
from typing import Any

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 40


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on `construct` (and its children).

    `rule` is the short id (`S1`) or a finding id (`IAM5[Resource::*]`). A reason must
    say why the finding does not apply, so short placeholders are refused.
    """
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"nag acknowledgement {rule!r} needs a reason of at least "
                         f"{MIN_REASON_LENGTH} characters, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The logical id cdk-nag uses to name a resource in finding ids like `<Id.Arn>/*`."""
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    return Stack.of(construct).get_logical_id(element)


def acknowledge_resource(construct: IConstruct, resource: Any, reason: str) -> None:
    """Acknowledge the wildcard-resource finding for `resource` (an ARN, maybe with tokens)."""
    acknowledge(construct, f"IAM5[Resource::{rendered(construct, resource)}]", reason)


def rendered(scope: IConstruct, value: Any) -> str:
    """A value as cdk-nag prints it in finding ids: `<Logical.Arn>`, `<AWS::Region>`."""
    return _render(Stack.of(scope).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    return json.dumps(value, separators=(",", ":"))  # other intrinsics, e.g. a cross-stack output


# Singleton Lambda providers that aws-cdk-lib adds on its own, and why their findings
# are acceptable: the code and role are CDK's, not ours, and they run only at deploy.
_CDK_PROVIDERS = {
    "Custom::S3AutoDeleteObjectsCustomResourceProvider": (
        "Deletes objects of dev-stage buckets on cdk destroy",
    ),
    "Custom::VpcRestrictDefaultSGCustomResourceProvider": (
        "Strips all rules from the VPC's default security group",
    ),
    "AWS679f53fac002430cb0da5b7982bd2287": (  # AwsCustomResource's provider
        "Makes one AWS API call at deploy time (starting a Flink application)",
    ),
}
_BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def acknowledge_cdk_providers(stack: Stack) -> None:
    """Acknowledge the managed-policy finding on aws-cdk-lib's own provider functions."""
    for child_id, (purpose,) in _CDK_PROVIDERS.items():
        provider = stack.node.try_find_child(child_id)
        if provider is None:
            continue
        acknowledge(provider, f"IAM4[{_BASIC_EXECUTION_ROLE}]",
                    f"{purpose}: aws-cdk-lib's provider role uses AWSLambdaBasicExecutionRole "
                    "only to write its own logs during deployment")
