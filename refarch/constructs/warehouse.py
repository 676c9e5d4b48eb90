"""A private, encrypted, audited Redshift RA3 cluster in isolated subnets."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.checkov import skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge

NODE_TYPES = ("ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge")
SINGLE_NODE_TYPES = ("ra3.large", "ra3.xlplus")  # the RA3 sizes offered as a single node
AUDIT_LOGS = ("connectionlog", "useractivitylog", "userlog")
ADMIN_USER = "refarch_admin"
DB_USER_NAME = re.compile(r"[a-z_][a-z0-9_$]{0,126}")   # a plain Redshift user name: SQL-safe unquoted
SUBMIT_ACTIONS = ("ExecuteStatement", "BatchExecuteStatement")
# Why the Data API's statement-level calls are granted on "*" (for the grantee's acknowledgement).
STATEMENT_CALLS_REASON = ("redshift-data statement calls (describe, result, cancel) support no resource type; "
                          "the Data API only returns the caller's own statements")


class Warehouse(Construct):
    """Not publicly accessible, enhanced VPC routing (COPY and Spectrum traffic stays on the
    VPC's endpoints), encrypted with `key`, SSL required, audit logs to encrypted log groups,
    admin password generated and rotated by Redshift in Secrets Manager."""

    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc, key: kms.IKey, node_type: str, nodes: int, database: str, roles: Sequence[iam.IRole],
                 client_cidrs: Sequence[str], port: int, snapshot_retention_days: int,
                 log_retention_days: int, removal_policy: RemovalPolicy,
                 alarm_topic: sns.ITopic | None = None) -> None:
        super().__init__(scope, id)
        if node_type not in NODE_TYPES:
            raise ValueError(f"Warehouse node_type={node_type!r}: allowed {', '.join(NODE_TYPES)}")
        if not 1 <= nodes <= 128 or (nodes == 1 and node_type not in SINGLE_NODE_TYPES):
            raise ValueError(f"Warehouse nodes={nodes!r}: allowed 2 to 128, or 1 with "
                             f"{' or '.join(SINGLE_NODE_TYPES)}")
        if not 1 <= snapshot_retention_days <= 35:
            raise ValueError(f"Warehouse snapshot_retention_days={snapshot_retention_days!r}: allowed 1 to 35")
        stack = Stack.of(self)
        self.cluster_identifier = f"{stack.stack_name}-{id}".lower()[:63]
        self.database = database
        self.admin_user = ADMIN_USER

        self.security_group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                                description="Redshift: SQL from the client subnets only")
        for cidr in client_cidrs:
            self.security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), "SQL clients")
        # Outbound HTTPS only: to the interface endpoints (Glue, KMS, STS) and, with enhanced
        # VPC routing, to S3 through its gateway endpoint, whose addresses are public ones.
        # The subnets have no route to the internet, so this reaches nothing else.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                                            "HTTPS to the VPC endpoints (interface and S3 gateway)")
        subnet_group = redshift.CfnClusterSubnetGroup(
            self, "Subnets", description=f"{self.cluster_identifier}: isolated subnets",
            subnet_ids=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids)
        parameters = redshift.CfnClusterParameterGroup(
            self, "Parameters", description="SSL required, user activity logged",
            parameter_group_family="redshift-2.0", parameters=[
                redshift.CfnClusterParameterGroup.ParameterProperty(parameter_name="require_ssl", parameter_value="true"),
                redshift.CfnClusterParameterGroup.ParameterProperty(
                    parameter_name="enable_user_activity_logging", parameter_value="true")])
        # Redshift writes audit logs to /aws/redshift/cluster/<id>/<log>: create them first,
        # encrypted and with a retention, instead of letting the service create plain ones.
        self.audit_log_groups = [
            encrypted_log_group(self, f"Audit-{log}", key=key, retention_days=log_retention_days,
                                removal_policy=removal_policy,
                                log_group_name=f"/aws/redshift/cluster/{self.cluster_identifier}/{log}")
            for log in AUDIT_LOGS]

        self.cluster = redshift.CfnCluster(
            self, "Cluster", cluster_identifier=self.cluster_identifier, db_name=database,
            node_type=node_type, cluster_type="single-node" if nodes == 1 else "multi-node",
            number_of_nodes=None if nodes == 1 else nodes,
            master_username=ADMIN_USER, manage_master_password=True,
            master_password_secret_kms_key_id=key.key_id,
            encrypted=True, kms_key_id=key.key_id, enhanced_vpc_routing=True, publicly_accessible=False,
            port=port, cluster_subnet_group_name=subnet_group.ref,
            cluster_parameter_group_name=parameters.ref,
            vpc_security_group_ids=[self.security_group.security_group_id],
            iam_roles=[role.role_arn for role in roles],
            automated_snapshot_retention_period=snapshot_retention_days,
            allow_version_upgrade=True,
            logging_properties=redshift.CfnCluster.LoggingPropertiesProperty(
                log_destination_type="cloudwatch", log_exports=list(AUDIT_LOGS)))
        self.cluster.apply_removal_policy(removal_policy)
        for group in self.audit_log_groups:
            self.cluster.node.add_dependency(group)
        acknowledge(self.cluster, "RS4",
                    "The port is not an access control here: the cluster is private, its security "
                    "group admits only the client subnets, and loads use the Data API")
        skip_check(self.cluster, "CKV_AWS_71", "Audit logging is on, to CloudWatch Logs (LogDestinationType "
                   "cloudwatch, encrypted log groups with retention); checkov only recognises an S3 bucket")
        self.secret_arn = self.cluster.attr_master_password_secret_arn
        self.alarms = self._alarms(alarm_topic)

    def data_api_statements(self, *, db_user: str, submit: Sequence[str],
                            read_results: bool = False) -> list[iam.PolicyStatement]:
        """What a role needs to run SQL on this cluster through the Redshift Data API as the
        database user `db_user` and no other: `submit` (ExecuteStatement, BatchExecuteStatement)
        on the cluster, the statement calls it waits with (GetStatementResult only if it reads
        rows), and temporary credentials (redshift:GetClusterCredentials) for that user and this
        database, so it never reads the admin secret. The caller attaches them to its role and
        acknowledges the "*" of the statement calls (STATEMENT_CALLS_REASON)."""
        if not DB_USER_NAME.fullmatch(db_user):
            raise ValueError(f"Warehouse data_api_statements db_user={db_user!r}: allowed a Redshift user name "
                             "(lower-case letters, digits, _ or $, starting with a letter or _)")
        unknown = [action for action in submit if action not in SUBMIT_ACTIONS]
        if unknown or not submit:
            raise ValueError(f"Warehouse data_api_statements submit={list(submit)!r}: allowed one or both of "
                             f"{', '.join(SUBMIT_ACTIONS)}")
        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="redshift", resource=resource, resource_name=name,
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME)
        waits = ["redshift-data:DescribeStatement", "redshift-data:CancelStatement"]
        return [
            iam.PolicyStatement(actions=[f"redshift-data:{action}" for action in sorted(submit)],
                                resources=[arn("cluster", self.cluster_identifier)]),
            iam.PolicyStatement(actions=sorted(waits + (["redshift-data:GetStatementResult"] if read_results else [])),
                                resources=["*"]),
            iam.PolicyStatement(actions=["redshift:GetClusterCredentials"], resources=[
                arn("dbuser", f"{self.cluster_identifier}/{db_user}"),
                arn("dbname", f"{self.cluster_identifier}/{self.database}")]),
        ]

    def _alarms(self, topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/Redshift", metric_name=name, statistic=statistic,
                                     period=FIVE_MINUTES,
                                     dimensions_map={"ClusterIdentifier": self.cluster_identifier})
        return [
            alarm_when(self, "CpuHigh", topic=topic, above=90, periods=3,
                       metric=metric("CPUUtilization", "Average"), description="Warehouse CPU above 90% for 15 minutes"),
            alarm_when(self, "DiskAlmostFull", topic=topic, above=85,
                       metric=metric("PercentageDiskSpaceUsed", "Maximum"), description="Warehouse disk above 85% used"),
            alarm_when(self, "Unhealthy", topic=topic, below=1, periods=2,
                       metric=metric("HealthStatus", "Minimum"), description="Warehouse health check failing"),
        ]
