"""An OpenSearch Service domain in the isolated subnets, locked down, with its alarms.

Encrypted at rest with `key`, node-to-node encryption, HTTPS only with a TLS 1.2 (PFS)
policy, fine-grained access control whose master is an IAM role (no internal users, no
passwords), reachable only from inside the VPC (no public endpoint) and only by this
account's IAM principals, slow and error logs to encrypted log groups, zone awareness
when it spans more than one AZ.
"""

from __future__ import annotations

import re

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.checkov import skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge

ENGINE_VERSION = "OpenSearch_2.19"
TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
DOMAIN_NAME = r"^[a-z][a-z0-9-]{2,27}$"
LOGS = ("SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS")


class SearchDomain(Construct):
    """`instance_count` data nodes of `instance_type` with `volume_gb` gp3 each."""

    def __init__(self, scope: Construct, id: str, *, domain_name: str, vpc: ec2.IVpc, key: kms.IKey,
                 instance_type: str, instance_count: int, volume_gb: int, master_role: iam.IRole,
                 log_retention_days: int, removal_policy: RemovalPolicy, dedicated_masters: int = 0,
                 master_type: str | None = None, alarm_topic: sns.ITopic | None = None) -> None:
        super().__init__(scope, id)
        if not re.match(DOMAIN_NAME, domain_name):
            raise ValueError(f"SearchDomain domain_name={domain_name!r}: 3 to 28 lower-case letters, digits, -")
        if not instance_type.endswith(".search") or not 1 <= instance_count <= 80:
            raise ValueError(f"SearchDomain instance_type={instance_type!r} (an OpenSearch type, *.search), "
                             f"instance_count={instance_count!r} (1 to 80)")
        if not 10 <= volume_gb <= 16384 or dedicated_masters not in (0, 3, 5):
            raise ValueError(f"SearchDomain volume_gb={volume_gb!r} (10 to 16384), "
                             f"dedicated_masters={dedicated_masters!r} (0, 3 or 5)")
        stack = Stack.of(self)
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
        # One subnet per AZ the nodes spread over: as many as the VPC has, up to the node count.
        zones = min(len(vpc.availability_zones), instance_count, 3)
        self.zone_awareness = zones > 1
        self.domain_name = domain_name
        self.volume_gb = volume_gb
        self.domain_arn = stack.format_arn(service="es", resource="domain", resource_name=domain_name)
        self.security_group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                                description=f"OpenSearch {domain_name}: HTTPS from its clients")
        self.log_groups = {name: encrypted_log_group(self, f"Logs-{name}", key=key, retention_days=log_retention_days,
                                                     removal_policy=removal_policy) for name in LOGS}
        # OpenSearch writes its logs from the service: a resource policy lets it, for these groups.
        log_policy = logs.CfnResourcePolicy(
            self, "LogDelivery", policy_name=f"{domain_name}-log-delivery",
            policy_document=stack.to_json_string({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "es.amazonaws.com"},
                "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                "Resource": [g.log_group_arn for g in self.log_groups.values()],
                "Condition": {"StringEquals": {"aws:SourceAccount": stack.account}}}]}))

        self.domain = opensearch.CfnDomain(
            self, "Domain", domain_name=domain_name, engine_version=ENGINE_VERSION,
            cluster_config=opensearch.CfnDomain.ClusterConfigProperty(
                instance_type=instance_type, instance_count=instance_count,
                zone_awareness_enabled=self.zone_awareness,
                zone_awareness_config=opensearch.CfnDomain.ZoneAwarenessConfigProperty(
                    availability_zone_count=zones) if self.zone_awareness else None,
                dedicated_master_enabled=dedicated_masters > 0,
                dedicated_master_count=dedicated_masters or None,
                dedicated_master_type=(master_type or instance_type) if dedicated_masters else None),
            ebs_options=opensearch.CfnDomain.EBSOptionsProperty(ebs_enabled=True, volume_type="gp3",
                                                                volume_size=volume_gb),
            encryption_at_rest_options=opensearch.CfnDomain.EncryptionAtRestOptionsProperty(
                enabled=True, kms_key_id=key.key_id),
            node_to_node_encryption_options=opensearch.CfnDomain.NodeToNodeEncryptionOptionsProperty(enabled=True),
            domain_endpoint_options=opensearch.CfnDomain.DomainEndpointOptionsProperty(
                enforce_https=True, tls_security_policy=TLS_POLICY),
            advanced_security_options=opensearch.CfnDomain.AdvancedSecurityOptionsInputProperty(
                enabled=True, internal_user_database_enabled=False,
                master_user_options=opensearch.CfnDomain.MasterUserOptionsProperty(
                    master_user_arn=master_role.role_arn)),
            vpc_options=opensearch.CfnDomain.VPCOptionsProperty(
                subnet_ids=subnets[:zones] if zones > 1 else subnets[:1],
                security_group_ids=[self.security_group.security_group_id]),
            # Only this account's IAM principals get through to fine-grained access control,
            # which then decides what each may do (roles mapped by the index setup).
            access_policies={"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:{stack.partition}:iam::{stack.account}:root"},
                "Action": "es:ESHttp*", "Resource": f"{self.domain_arn}/*"}]},
            log_publishing_options={name: opensearch.CfnDomain.LogPublishingOptionProperty(
                cloud_watch_logs_log_group_arn=group.log_group_arn, enabled=True)
                for name, group in self.log_groups.items()},
            software_update_options=opensearch.CfnDomain.SoftwareUpdateOptionsProperty(
                auto_software_update_enabled=True),
            off_peak_window_options=opensearch.CfnDomain.OffPeakWindowOptionsProperty(enabled=True))
        self.domain.apply_removal_policy(removal_policy)
        self.domain.node.add_dependency(log_policy)
        self.endpoint = self.domain.attr_domain_endpoint
        acknowledge(self.domain, "OS3", "No public endpoint: the domain is in the isolated subnets and its "
                    "security group admits HTTPS only from its clients' security groups; the access policy admits "
                    "only this account's IAM principals, and fine-grained access control decides the rest")
        if dedicated_masters == 0:
            acknowledge(self.domain, "OS4", "Dedicated master nodes pay off from a few data nodes up; the "
                        "setting clickstream_search_masters=3 adds them, sized like the data nodes")
            skip_check(self.domain, "CKV_AWS_318", "Dedicated master nodes pay off from a few data nodes up; "
                       "the setting clickstream_search_masters=3 adds them")
        if not self.zone_awareness:
            acknowledge(self.domain, "OS7", "One availability zone was chosen (azs=1 or one data node); "
                        "with two or more, the domain spreads its nodes and replicas across zones")
        self.alarms = self._alarms(alarm_topic)

    def allow_https_from(self, peer: ec2.ISecurityGroup, description: str) -> None:
        self.security_group.add_ingress_rule(peer, ec2.Port.tcp(443), description)

    def _alarms(self, topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        account = Stack.of(self).account

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/ES", metric_name=name, statistic=statistic,
                                     period=FIVE_MINUTES,
                                     dimensions_map={"DomainName": self.domain_name, "ClientId": account})
        # FreeStorageSpace is in MB, per node (the minimum is the fullest node).
        low_storage_mb = self.volume_gb * 1024 * 0.25
        return [
            alarm_when(self, "ClusterRed", topic=topic, above=0, metric=metric("ClusterStatus.red", "Maximum"),
                       description="A primary shard is unassigned: some documents cannot be searched or written"),
            alarm_when(self, "ClusterYellow", topic=topic, above=0, periods=3,
                       metric=metric("ClusterStatus.yellow", "Maximum"),
                       description="Replica shards are unassigned for 15 minutes: one node failure from data loss"),
            alarm_when(self, "LowStorage", topic=topic, below=low_storage_mb,
                       metric=metric("FreeStorageSpace", "Minimum"),
                       description="A node has less than 25% of its storage free; writes block at 5%"),
            alarm_when(self, "WritesBlocked", topic=topic, above=0,
                       metric=metric("ClusterIndexWritesBlocked", "Maximum"),
                       description="The domain refuses writes (storage or memory pressure)"),
            alarm_when(self, "JvmPressure", topic=topic, above=80, periods=3,
                       metric=metric("JVMMemoryPressure", "Maximum"),
                       description="JVM memory pressure above 80% for 15 minutes"),
        ]
