"""S3 buckets with the project's defaults: encrypted, TLS-only, private, versioned, logged."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.checkov import skip_check
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.nag import acknowledge


def secure_bucket(scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                  retain: bool, lifecycle_rules: Sequence[s3.LifecycleRule] = (),
                  versioned: bool = True, access_log_prefix: str | None = None,
                  bucket_name: str | None = None) -> s3.Bucket:
    """A data bucket encrypted with `key` whose server access logs go to `access_logs`.

    Versioned by default so an overwrite or delete never loses data. With
    `retain=False` (dev) the bucket and its objects are deleted with the stack.

    The log target is referenced by name, so this bucket adds nothing to the target's
    policy: the target admits log delivery for all of its sources at once (see
    `access_log_bucket`), and does not change with the buckets that happen to exist.
    """
    target = s3.Bucket.from_bucket_name(scope, f"{id}AccessLogTarget", access_logs.bucket_name)
    bucket = s3.Bucket(
        scope, id, bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS, encryption_key=key, bucket_key_enabled=True,
        enforce_ssl=True, minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=versioned,
        server_access_logs_bucket=target, server_access_logs_prefix=access_log_prefix or f"{scope.node.path}/{id}/",
        lifecycle_rules=[_abort_incomplete_uploads(), *lifecycle_rules],
        removal_policy=removal_policy(retain=retain), auto_delete_objects=not retain,
    )
    Annotations.of(bucket).acknowledge_warning(
        "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
        "The access-log bucket's own policy admits log delivery from every bucket of the project")
    return bucket


def access_log_bucket(scope: Construct, id: str, *, retention_days: int, retain: bool,
                      source_bucket_prefix: str) -> s3.Bucket:
    """The target of S3 server access logs, which S3 can only write with SSE-S3.

    One statement admits log delivery from this account's buckets whose names start with
    `source_bucket_prefix` (the project's stacks name theirs so), whichever of them exist:
    the policy does not depend on which stacks are deployed, and no other account's or
    project's bucket can write into it.
    """
    if not 1 <= retention_days <= 3653:
        raise ValueError(f"access_log_bucket retention_days={retention_days!r}: allowed 1 to 3653")
    if not _BUCKET_NAME_PREFIX.match(source_bucket_prefix):
        raise ValueError(f"access_log_bucket source_bucket_prefix={source_bucket_prefix!r}: "
                         "lower-case letters, digits and hyphens, like 'refarch-dev-'")
    bucket = s3.Bucket(
        scope, id,
        encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery does not support SSE-KMS
        enforce_ssl=True, minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        lifecycle_rules=[
            _abort_incomplete_uploads(),
            s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(retention_days),
                             noncurrent_version_expiration=Duration.days(1)),
        ],
        removal_policy=removal_policy(retain=retain), auto_delete_objects=not retain,
    )
    stack = Stack.of(bucket)
    bucket.add_to_resource_policy(iam.PolicyStatement(
        sid="AllowServerAccessLogsOfTheProjectsBuckets",
        principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")], actions=["s3:PutObject"],
        resources=[bucket.arn_for_objects("*")],
        conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:s3:::{source_bucket_prefix}*"}}))
    acknowledge(bucket, "S1", "This is the access-log bucket itself; logging its own access "
                "into itself would create an endless loop of log objects")
    skip_check(bucket, "CKV_AWS_18", "This is the access-log bucket itself: logging its own access into "
               "itself would write a log object for every log object, without end")
    return bucket


_BUCKET_NAME_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.-]{0,40}$")


def _abort_incomplete_uploads() -> s3.LifecycleRule:
    return s3.LifecycleRule(id="AbortIncompleteUploads",
                            abort_incomplete_multipart_upload_after=Duration.days(7))

