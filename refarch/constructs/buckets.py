"""S3 buckets with the project's defaults: encrypted, TLS-only, private, versioned, logged."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Annotations, Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.checkov import skip_check
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.nag import acknowledge


RETENTION_TAG = "refarch:retention"   # how long a bucket keeps what it holds, stated on the bucket
KEPT = "kept until deleted"
DEFAULT_NONCURRENT_DAYS = 30


def secure_bucket(scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                  retain: bool, lifecycle_rules: Sequence[s3.LifecycleRule] = (),
                  versioned: bool = True, access_log_prefix: str | None = None,
                  bucket_name: str | None = None, retention: str = KEPT,
                  noncurrent_days: int = DEFAULT_NONCURRENT_DAYS) -> s3.Bucket:
    """A data bucket encrypted with `key` whose server access logs go to `access_logs`.

    Versioned by default so an overwrite or delete never loses data, for `noncurrent_days`:
    then the old version expires, so a bucket whose objects are rewritten (curated
    partitions, query results) does not grow without bound. `retention` states how long
    current objects are kept (tag refarch:retention); the lifecycle rules that expire them
    are the caller's (`lifecycle_rules`), and a test holds the two equal. With
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
        lifecycle_rules=[_abort_incomplete_uploads(), *lifecycle_rules,
                         *([_expire_old_versions(noncurrent_days)] if versioned else [])],
        removal_policy=removal_policy(retain=retain), auto_delete_objects=not retain,
    )
    state_retention(bucket, f"{retention} / old versions {noncurrent_days} days" if versioned else retention)
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
    state_retention(bucket, f"expire after {retention_days} days / old versions 1 days")
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
_TAG_VALUE = re.compile(r"[\w +\-=.:/@]{1,256}")


def state_retention(bucket: s3.Bucket, statement: str) -> None:
    """How long `bucket` keeps its objects, in words a reader of the console understands."""
    if not _TAG_VALUE.fullmatch(statement):
        raise ValueError(f"retention statement {statement!r}: 1 to 256 of letters, digits, spaces and + - = . _ : / @"
                         " (what a tag value may hold)")
    Tags.of(bucket).add(RETENTION_TAG, statement)


def expire_after(days: int, *, rule_id: str, prefix: str | None = None) -> s3.LifecycleRule:
    """Current objects (under `prefix`) expire after `days`."""
    if not 1 <= days <= 3653:
        raise ValueError(f"{rule_id}: expiration after {days!r} days: allowed 1 to 3653")
    return s3.LifecycleRule(id=rule_id, prefix=prefix, expiration=Duration.days(days))


def _expire_old_versions(days: int) -> s3.LifecycleRule:
    if not 1 <= days <= 3653:
        raise ValueError(f"secure_bucket noncurrent_days={days!r}: allowed 1 to 3653")
    return s3.LifecycleRule(id="ExpireOldVersions", noncurrent_version_expiration=Duration.days(days),
                            expired_object_delete_marker=True)


def _abort_incomplete_uploads() -> s3.LifecycleRule:
    return s3.LifecycleRule(id="AbortIncompleteUploads",
                            abort_incomplete_multipart_upload_after=Duration.days(7))

