"""checkov skips with reasons, written on the resource they concern.

checkov reads `Metadata.checkov.skip` ([{id, comment}]) from a CloudFormation resource,
as Solutions Constructs carry cfn_nag reasons, so a reviewer sees the reason next to
the resource in the template and `refarch synth` can count the skips per stack.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from constructs import IConstruct

MIN_REASON_LENGTH = 40

# Lambda checks that do not fit a function whose failures are handled elsewhere.
DLQ = "CKV_AWS_116"          # function-level dead-letter queue (asynchronous invocations only)
IN_VPC = "CKV_AWS_117"       # function attached to a VPC
CONCURRENCY = "CKV_AWS_115"  # reserved concurrency


def skip_check(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` on `construct`'s CloudFormation resource, saying why."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"checkov skip {check_id!r} needs a reason of at least {MIN_REASON_LENGTH} "
                         f"characters, got {reason!r}")
    resource = _cfn_resource(construct)
    skips = [s for s in (resource.get_metadata("checkov") or {}).get("skip", []) if s["id"] != check_id]
    resource.add_metadata("checkov", {"skip": [*skips, {"id": check_id, "comment": reason}]})


def _cfn_resource(construct: IConstruct) -> CfnResource:
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise ValueError(f"checkov skip: {construct.node.path} has no CloudFormation resource of its own")
    return resource


# Singleton Lambda providers that aws-cdk-lib adds on its own (as in nag.py).
_CDK_PROVIDERS = {
    "Custom::S3AutoDeleteObjectsCustomResourceProvider": "deletes a dev bucket's objects on cdk destroy",
    "Custom::VpcRestrictDefaultSGCustomResourceProvider": "strips the VPC default security group's rules",
    "AWS679f53fac002430cb0da5b7982bd2287": "makes one AWS API call at deploy time (AwsCustomResource)",
}
CDK_PROVIDER_IDS = tuple(_CDK_PROVIDERS)


def skip_cdk_provider_checks(stack: Stack) -> None:
    """Skip the Lambda checks on aws-cdk-lib's own provider functions: CloudFormation
    invokes them during a deploy and waits for their answer, so they need no DLQ,
    reach only public AWS APIs and run one at a time per resource."""
    for child_id, purpose in _CDK_PROVIDERS.items():
        provider = stack.node.try_find_child(child_id)
        if provider is None:
            continue
        for function in _functions(provider):
            skip_check(function, DLQ, f"aws-cdk-lib's provider ({purpose}) is invoked by CloudFormation, "
                       "which reports a failure as a failed deployment; a DLQ would hold nothing useful")
            skip_check(function, IN_VPC, f"aws-cdk-lib's provider ({purpose}) only calls public AWS APIs "
                       "at deploy time and touches no data in the VPC; its code is CDK's, not ours")
            skip_check(function, CONCURRENCY, f"aws-cdk-lib's provider ({purpose}) runs once per resource "
                       "change during a deployment; reserving concurrency for it would only waste capacity")


def _functions(scope: IConstruct) -> list[CfnResource]:
    return [c for c in scope.node.find_all()
            if isinstance(c, CfnResource) and c.cfn_resource_type == "AWS::Lambda::Function"]
