"""Raw and curated zones of a data lake, each its own encrypted, versioned bucket."""

from __future__ import annotations

import re

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.buckets import secure_bucket


class DataLakeStorage(Construct):
    """`raw` ages to Standard-IA then Glacier Instant Retrieval (it is the immutable record of
    what arrived, and the ETL job still reads it, which Flexible Retrieval would refuse);
    `curated` uses Intelligent-Tiering, whose access patterns are unknown in advance.

    The buckets have fixed names (`<name_prefix>-raw|curated-<account>-<region>`) so that
    consumers in other stacks, such as a warehouse's COPY role, can name them without a
    cross-stack reference.
    """

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                 retain: bool, name_prefix: str, raw_to_infrequent_days: int = 30,
                 raw_to_glacier_days: int = 90) -> None:
        super().__init__(scope, id)
        self.raw_bucket_name = zone_bucket_name(self, name_prefix, "raw")
        self.curated_bucket_name = zone_bucket_name(self, name_prefix, "curated")
        if raw_to_infrequent_days < 30:  # S3 refuses Standard-IA transitions before 30 days
            raise ValueError(f"DataLakeStorage raw_to_infrequent_days={raw_to_infrequent_days!r}: allowed 30 or more")
        if raw_to_glacier_days <= raw_to_infrequent_days:
            raise ValueError(f"DataLakeStorage raw_to_glacier_days={raw_to_glacier_days!r}: must be after "
                             f"raw_to_infrequent_days={raw_to_infrequent_days}")
        self.raw = secure_bucket(self, "Raw", key=key, access_logs=access_logs, retain=retain,
                                 bucket_name=self.raw_bucket_name,
                                 lifecycle_rules=[s3.LifecycleRule(id="RawTiering", transitions=[
                                     s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                                   transition_after=Duration.days(raw_to_infrequent_days)),
                                     s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                                   transition_after=Duration.days(raw_to_glacier_days))])])
        self.curated = secure_bucket(self, "Curated", key=key, access_logs=access_logs, retain=retain,
                                     bucket_name=self.curated_bucket_name,
                                     lifecycle_rules=[s3.LifecycleRule(id="CuratedTiering", transitions=[
                                         s3.Transition(storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                                                       transition_after=Duration.days(0))])])


def zone_bucket_name(scope: Construct, prefix: str, zone: str) -> str:
    """`<prefix>-<zone>-<account>-<region>`: unique per account and region, as S3 requires."""
    stack = Stack.of(scope)
    name = f"{prefix}-{zone}-{stack.account}-{stack.region}".lower()
    if not Token.is_unresolved(name) and not _BUCKET_NAME.match(name):
        raise ValueError(f"DataLakeStorage name_prefix={prefix!r}: gives the invalid bucket name {name!r}")
    return name


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
