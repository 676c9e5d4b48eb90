"""Raw and curated zones of a data lake, each its own encrypted, versioned bucket."""

from __future__ import annotations

import re

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.buckets import secure_bucket


class DataLakeStorage(Construct):
    """`raw` and `curated` both use Intelligent-Tiering from their first day: objects no one reads
    move to cheaper tiers by themselves, and - unlike Standard-IA or Glacier - reading one back
    (a late file brings its day's old raw objects into the ETL run; a backfill reads a range;
    the warehouse copies curated days) costs no retrieval fee and returns it to the frequent
    tier. Raw is kept until deleted: it is the immutable record every backfill rebuilds from.
    Curated partitions are rewritten by each run, so their old versions expire after
    `curated_versions_days`.

    The buckets have fixed names (`<name_prefix>-raw|curated-<account>-<region>`) so that
    consumers in other stacks, such as a warehouse's COPY role, can name them without a
    cross-stack reference.
    """

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                 retain: bool, name_prefix: str, curated_versions_days: int = 7) -> None:
        super().__init__(scope, id)
        self.raw_bucket_name = zone_bucket_name(self, name_prefix, "raw")
        self.curated_bucket_name = zone_bucket_name(self, name_prefix, "curated")
        self.raw = secure_bucket(self, "Raw", key=key, access_logs=access_logs, retain=retain,
                                 bucket_name=self.raw_bucket_name, lifecycle_rules=[_tiering("RawTiering")],
                                 retention="kept until deleted: the record every backfill rebuilds from")
        self.curated = secure_bucket(self, "Curated", key=key, access_logs=access_logs, retain=retain,
                                     bucket_name=self.curated_bucket_name,
                                     lifecycle_rules=[_tiering("CuratedTiering")],
                                     retention="kept until deleted: rebuilt by a backfill from raw",
                                     noncurrent_days=curated_versions_days)


def _tiering(rule_id: str) -> s3.LifecycleRule:
    return s3.LifecycleRule(id=rule_id, transitions=[s3.Transition(
        storage_class=s3.StorageClass.INTELLIGENT_TIERING, transition_after=Duration.days(0))])


def zone_bucket_name(scope: Construct, prefix: str, zone: str) -> str:
    """`<prefix>-<zone>-<account>-<region>`: unique per account and region, as S3 requires."""
    stack = Stack.of(scope)
    name = f"{prefix}-{zone}-{stack.account}-{stack.region}".lower()
    if not Token.is_unresolved(name) and not _BUCKET_NAME.match(name):
        raise ValueError(f"DataLakeStorage name_prefix={prefix!r}: gives the invalid bucket name {name!r}")
    return name


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
