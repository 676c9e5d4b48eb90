"""A VPC with isolated subnets only: no internet route, AWS services via endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.zones import MAX_AZS, zone_kind

_S = ec2.InterfaceVpcEndpointAwsService
# Interface endpoints by the name used in settings.
INTERFACE_SERVICES = {
    "kinesis-streams": _S.KINESIS_STREAMS, "firehose": _S.KINESIS_FIREHOSE, "kms": _S.KMS,
    "logs": _S.CLOUDWATCH_LOGS, "monitoring": _S.CLOUDWATCH_MONITORING, "sts": _S.STS,
    "sns": _S.SNS, "sqs": _S.SQS, "glue": _S.GLUE, "athena": _S.ATHENA,
    "secretsmanager": _S.SECRETS_MANAGER, "redshift": _S.REDSHIFT,
    "redshift-data": _S.REDSHIFT_DATA, "ssm": _S.SSM, "events": _S.EVENTBRIDGE,
    "lambda": _S.LAMBDA_, "ecr.api": _S.ECR, "ecr.dkr": _S.ECR_DOCKER,
}


class IsolatedNetwork(Construct):
    """VPC over `azs` zones with only isolated subnets, no NAT and no internet gateway.

    `azs` is a count (zones picked by index at deploy time), or the zones themselves, by
    name (us-east-1a) or by id (use1-az1, the same physical zone in every account).

    Workloads reach S3 and DynamoDB through gateway endpoints and the services named
    in `interface_endpoints` through private-DNS interface endpoints that admit HTTPS
    from inside the VPC only. All traffic is recorded by flow logs into an encrypted
    log group.
    """

    def __init__(self, scope: Construct, id: str, *, azs: int | Sequence[str], cidr: str,
                 interface_endpoints: Sequence[str], flow_log_key: kms.IKey,
                 flow_log_retention_days: int, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        zones = availability_zones(azs)
        unknown = sorted(set(interface_endpoints) - set(INTERFACE_SERVICES))
        if unknown:
            raise ValueError(f"IsolatedNetwork interface_endpoints: unknown {unknown}; "
                             f"allowed {sorted(INTERFACE_SERVICES)}")

        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            # Zones by name, or picked by index at deploy time: no context lookup, so synth
            # needs no credentials. Zone ids are set on the subnets below.
            availability_zones=zones,
            nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(
                name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
            restrict_default_security_group=True,
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        if not isinstance(azs, int) and zone_kind(azs) == "id":
            for subnet, zone_id in zip(self.vpc.isolated_subnets, azs, strict=True):
                cfn = subnet.node.default_child
                cfn.add_property_deletion_override("AvailabilityZone")
                cfn.add_property_override("AvailabilityZoneId", zone_id)

        self.flow_log_group = encrypted_log_group(
            self, "FlowLogs", key=flow_log_key, retention_days=flow_log_retention_days,
            removal_policy=removal_policy)
        self.flow_log = self.vpc.add_flow_log(
            "FlowLog", traffic_type=ec2.FlowLogTrafficType.ALL,
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group))

        self.gateway_endpoints = {
            "s3": self.vpc.add_gateway_endpoint(
                "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets]),
            "dynamodb": self.vpc.add_gateway_endpoint(
                "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
                subnets=[self.subnets]),
        }
        # One group for all interface endpoints: HTTPS in from the VPC's own range only.
        self.endpoint_security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="HTTPS from inside the VPC to its interface endpoints")
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
        self.interface_endpoints = {
            name: self.vpc.add_interface_endpoint(
                _endpoint_id(name), service=INTERFACE_SERVICES[name], subnets=self.subnets,
                private_dns_enabled=True, open=False,
                security_groups=[self.endpoint_security_group])
            for name in interface_endpoints
        }


def availability_zones(azs: int | Sequence[str]) -> list[str]:
    """What the VPC is given: zone names, or one deploy-time pick per zone (count or ids)."""
    if isinstance(azs, int):
        if not 1 <= azs <= MAX_AZS:
            raise ValueError(f"IsolatedNetwork azs={azs!r}: allowed 1 to {MAX_AZS}")
        return [Fn.select(i, Fn.get_azs()) for i in range(azs)]
    if not 1 <= len(azs) <= MAX_AZS or len(set(azs)) != len(azs):
        raise ValueError(f"IsolatedNetwork azs={list(azs)!r}: 1 to {MAX_AZS} different zones")
    return list(azs) if zone_kind(azs) == "name" else availability_zones(len(azs))


def _endpoint_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace(".", "-").split("-")) + "Endpoint"
