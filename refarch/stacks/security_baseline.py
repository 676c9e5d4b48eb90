"""SecurityBaseline: keys, network, access logs and audit trail every pattern uses."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.config import BaselineSettings
from refarch.constructs.audit_trail import AuditTrail
from refarch.constructs.buckets import access_log_bucket
from refarch.constructs.keys import EncryptionKey
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.network import IsolatedNetwork, availability_zones
from refarch.constructs.outputs import add_outputs


class SecurityBaselineStack(Stack):
    """Exposes `data_key`, `vpc` and `access_logs_bucket` to the pattern stacks."""

    def __init__(self, scope: Construct, id: str, *, settings: BaselineSettings,
                 retain_data: bool, bucket_name_prefix: str | None = None, **kwargs) -> None:
        """`bucket_name_prefix`: how the project's bucket names start (whose access logs
        the baseline takes); by default its stack name without the id (`refarch-dev-`)."""
        self._azs = settings.azs
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        prefix = f"alias/{self.stack_name}"

        # Data and audit evidence have separate keys: a role that may read the lake
        # should not thereby be able to read (or tamper with) the audit trail.
        self.data_encryption = EncryptionKey(
            self, "DataKey", alias=f"{prefix}/data", removal_policy=removal,
            description="Encrypts the data stores, streams, queues, topics and logs of refarch",
            # Alarms and events publish to encrypted topics and queues. No topic delivers to a
            # queue and no bucket notifies, so SNS and S3 get no grant of their own.
            services=("cloudwatch", "events"))
        self.audit_encryption = EncryptionKey(
            self, "AuditKey", alias=f"{prefix}/audit", removal_policy=removal,
            description="Encrypts refarch's CloudTrail log files and VPC flow logs", services=("cloudtrail",))

        self.access_logs = access_log_bucket(
            self, "AccessLogs", retention_days=settings.access_log_retention_days,
            retain=retain_data,
            source_bucket_prefix=bucket_name_prefix or self.stack_name.removesuffix(id).lower())
        self.network = IsolatedNetwork(
            self, "Network", azs=settings.azs, cidr=settings.vpc_cidr,
            interface_endpoints=settings.interface_endpoints,
            flow_log_key=self.audit_encryption.key,
            flow_log_retention_days=settings.log_retention_days, removal_policy=removal)
        self.audit_trail = AuditTrail(self, "AuditTrail", key=self.audit_encryption.key,
                                      access_logs=self.access_logs, retain=retain_data)
        self._export_what_patterns_use()
        add_outputs(self, {"DataKeyArn": self.data_key.key_arn, "VpcId": self.vpc.vpc_id})

    def _export_what_patterns_use(self) -> None:
        # Every value a pattern stack imports, exported whichever patterns are selected:
        # otherwise the exports (so the template) would follow the selection, and deploying
        # the baseline for one pattern would try to drop the exports the others import.
        isolated = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnets
        for value in (self.data_key.key_arn, self.data_key.key_id, self.vpc.vpc_id,
                      self.vpc.vpc_cidr_block, self.access_logs.bucket_name,
                      *(subnet.subnet_id for subnet in isolated)):
            self.export_value(value)

    @property
    def availability_zones(self) -> list[str]:
        # The zones named in settings, or picked by index at deploy time: without this
        # override, CDK would look the zones up in the account at synth (credentials).
        return availability_zones(self._azs)

    @property
    def data_key(self) -> kms.IKey:
        return self.data_encryption.key

    @property
    def vpc(self) -> ec2.IVpc:
        return self.network.vpc

    @property
    def access_logs_bucket(self) -> s3.IBucket:
        return self.access_logs
