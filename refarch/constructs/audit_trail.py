"""An account-wide CloudTrail trail whose log files are encrypted, validated and kept."""

from __future__ import annotations

from aws_cdk import Duration, Names
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.buckets import secure_bucket
from refarch.constructs.keys import CLOUDTRAIL, EncryptionKey
from refarch.constructs.lifecycle import removal_policy


class AuditTrail(Construct):
    """Multi-region trail with log-file validation, KMS-encrypted, into its own bucket.

    Log files move to Glacier after `archive_after_days`; they are never expired here:
    how long audit evidence is kept is a compliance decision, not a default.

    `key` encrypts the bucket and the log files, so its policy must let this account's
    trails use it: `EncryptionKey(..., services=["cloudtrail"])` does. Without a key, the
    trail gets one of its own that does (`self.key`).
    """

    def __init__(self, scope: Construct, id: str, *, access_logs: s3.IBucket, retain: bool,
                 key: kms.IKey | None = None, archive_after_days: int = 90) -> None:
        super().__init__(scope, id)
        if archive_after_days < 1:
            raise ValueError(f"AuditTrail archive_after_days={archive_after_days!r}: allowed 1 or more")
        self.key = key or EncryptionKey(
            self, "Key", alias=f"alias/{Names.unique_id(self)}", services=[CLOUDTRAIL],
            description="Encrypts the audit trail's log files", removal_policy=removal_policy(retain=retain)).key
        self.bucket = secure_bucket(
            self, "Bucket", key=self.key, access_logs=access_logs, retain=retain,
            lifecycle_rules=[s3.LifecycleRule(id="ArchiveTrailLogs", transitions=[
                s3.Transition(storage_class=s3.StorageClass.GLACIER,
                              transition_after=Duration.days(archive_after_days))])],
            retention=f"kept until deleted: audit evidence is a compliance decision / Glacier after "
                      f"{archive_after_days} days")
        self.trail = cloudtrail.Trail(
            self, "Trail",
            bucket=self.bucket,
            encryption_key=self.key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
        )
