"""The findings on aws-cdk-lib's provider framework (`custom_resources.Provider`), answered once.

A construct that runs its own handler behind a custom resource gets the framework's onEvent
function with it: CDK's code and role, run only during deploys, invoking only that handler.
cdk-nag and checkov flag it like any function; the reasons below say why each does not apply.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import custom_resources as cr

from refarch.constructs.checkov import CONCURRENCY, DLQ, IN_VPC, skip_check
from refarch.constructs.nag import acknowledge, rendered


def acknowledge_provider_framework(provider: cr.Provider, *, handler_arn: str, handler: str) -> None:
    """Acknowledge the framework function of `provider`, which invokes `handler_arn` (described as
    `handler`, e.g. "the one setup function", in the reasons)."""
    framework = provider.node.find_child("framework-onEvent")
    acknowledge(framework, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]", "aws-cdk-lib's provider framework writes its own logs "
                "with the managed basic execution policy, during deploys only")
    acknowledge(framework, f"IAM5[Resource::{_nag_name(provider, handler_arn)}:*]",
                f"aws-cdk-lib's provider framework may invoke any version of {handler}")
    acknowledge(framework, "L1", "aws-cdk-lib's provider framework picks its own Node.js runtime; it "
                "runs only during deploys and moves with aws-cdk-lib upgrades")
    skip_check(framework, DLQ, "aws-cdk-lib's provider framework is invoked by CloudFormation, which "
               "reports a failure as a failed deployment")
    skip_check(framework, IN_VPC, "aws-cdk-lib's provider framework only answers CloudFormation and "
               "invokes the setup function; the setup function is the one in the VPC")
    skip_check(framework, "CKV_AWS_173", "aws-cdk-lib's provider framework's environment holds only the name "
               "of the function it invokes, nothing secret to encrypt")
    skip_check(framework, CONCURRENCY, "aws-cdk-lib's provider framework runs once per custom-resource event")


def _nag_name(scope: cr.Provider, arn: str) -> str:
    """How cdk-nag names `arn` in a finding: an imported ARN by its export, others as rendered."""
    resolved = Stack.of(scope).resolve(arn)
    if isinstance(resolved, dict) and "Fn::ImportValue" in resolved:
        return resolved["Fn::ImportValue"]
    return rendered(scope, arn)
