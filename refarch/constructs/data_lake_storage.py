"""Raw and curated zones of a data lake, each its own encrypted, versioned bucket."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.buckets import secure_bucket


class DataLakeStorage(Construct):
    """`raw` ages to Standard-IA then Glacier (it is the immutable record of what arrived);
    `curated` uses Intelligent-Tiering, whose access patterns are unknown in advance."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                 retain: bool, raw_to_infrequent_days: int = 30, raw_to_glacier_days: int = 90) -> None:
        super().__init__(scope, id)
        if raw_to_infrequent_days < 30:  # S3 refuses Standard-IA transitions before 30 days
            raise ValueError(f"DataLakeStorage raw_to_infrequent_days={raw_to_infrequent_days!r}: allowed 30 or more")
        if raw_to_glacier_days <= raw_to_infrequent_days:
            raise ValueError(f"DataLakeStorage raw_to_glacier_days={raw_to_glacier_days!r}: must be after "
                             f"raw_to_infrequent_days={raw_to_infrequent_days}")
        self.raw = secure_bucket(self, "Raw", key=key, access_logs=access_logs, retain=retain,
                                 lifecycle_rules=[s3.LifecycleRule(id="RawTiering", transitions=[
                                     s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                                   transition_after=Duration.days(raw_to_infrequent_days)),
                                     s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                                   transition_after=Duration.days(raw_to_glacier_days))])])
        self.curated = secure_bucket(self, "Curated", key=key, access_logs=access_logs, retain=retain,
                                     lifecycle_rules=[s3.LifecycleRule(id="CuratedTiering", transitions=[
                                         s3.Transition(storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                                                       transition_after=Duration.days(0))])])
