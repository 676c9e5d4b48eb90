"""A Kinesis data stream encrypted with a customer-managed key."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from refarch.constructs.nag import acknowledge

MIN_RETENTION_HOURS, MAX_RETENTION_HOURS = 24, 8760
MAX_SHARDS = 500  # the default per-account shard quota in the largest regions


class EncryptedStream(Construct):
    """Provisioned with `shards` shards, or on-demand when `shards` is None."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, shards: int | None,
                 retention_hours: int = 24) -> None:
        super().__init__(scope, id)
        if shards is not None and not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"EncryptedStream shards={shards!r}: allowed 1 to {MAX_SHARDS} "
                             "(or None for on-demand)")
        if not MIN_RETENTION_HOURS <= retention_hours <= MAX_RETENTION_HOURS:
            raise ValueError(f"EncryptedStream retention_hours={retention_hours!r}: allowed "
                             f"{MIN_RETENTION_HOURS} to {MAX_RETENTION_HOURS}")
        on_demand = shards is None
        self.stream = kinesis.Stream(
            self, "Stream",
            encryption=kinesis.StreamEncryption.KMS, encryption_key=key,
            stream_mode=kinesis.StreamMode.ON_DEMAND if on_demand else kinesis.StreamMode.PROVISIONED,
            shard_count=None if on_demand else shards,
            retention_period=Duration.hours(retention_hours),
        )
        acknowledge(self.stream, "KDS3",
                    "A customer-managed key is the design: its key policy, rotation and audit "
                    "trail are ours to control, which the aws/kinesis key does not allow; the "
                    "extra KMS request cost is accepted")
