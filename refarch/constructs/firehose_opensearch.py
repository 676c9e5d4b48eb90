"""Firehose from a Kinesis stream into an OpenSearch domain in the VPC, failed documents to S3.

Firehose places its network interfaces in the isolated subnets and reaches the domain there
(HTTPS to the domain's security group); it writes to an index alias, so the domain's ISM
policy rolls the indices over. Documents the domain refuses, after retrying for
`retry_seconds`, are kept gzipped under `search-failed/` in `bucket`, encrypted with `key`.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.checkov import skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge, acknowledge_resource, logical_id
from refarch.constructs.search_domain import SearchDomain

FAILED_PREFIX = "search-failed/"


class StreamToOpenSearch(Construct):
    def __init__(self, scope: Construct, id: str, *, stream: kinesis.IStream, domain: SearchDomain,
                 index_alias: str, bucket: s3.IBucket, key: kms.IKey, vpc: ec2.IVpc, log_retention_days: int,
                 removal_policy: RemovalPolicy, buffer_seconds: int = 60, buffer_mb: int = 5,
                 retry_seconds: int = 300, alarm_topic: sns.ITopic | None = None) -> None:
        super().__init__(scope, id)
        if not 0 <= buffer_seconds <= 900 or not 1 <= buffer_mb <= 100 or not 0 <= retry_seconds <= 7200:
            raise ValueError(f"StreamToOpenSearch buffer_seconds={buffer_seconds!r} (0 to 900), "
                             f"buffer_mb={buffer_mb!r} (1 to 100), retry_seconds={retry_seconds!r} (0 to 7200)")
        stack = Stack.of(self)
        self.delivery_stream_name = f"{stack.stack_name}-{id}"[:64]
        self.security_group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                                description="Firehose to OpenSearch: HTTPS to the domain")
        self.security_group.add_egress_rule(domain.security_group, ec2.Port.tcp(443), "HTTPS to the domain")
        # The domain's group admits this delivery by a rule of this construct's, not one added to it.
        self.domain_ingress = ec2.CfnSecurityGroupIngress(
            self, "DomainIngress", group_id=domain.security_group.security_group_id, ip_protocol="tcp",
            from_port=443, to_port=443, source_security_group_id=self.security_group.security_group_id,
            description="Firehose delivery")
        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        delivery_log = logs.LogStream(self, "SearchDelivery", log_group=self.log_group, removal_policy=removal_policy)
        backup_log = logs.LogStream(self, "FailedDocuments", log_group=self.log_group, removal_policy=removal_policy)
        self.role = self._role(stream, domain, bucket, key)

        def logging(log_stream: logs.LogStream):
            return firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                enabled=True, log_group_name=self.log_group.log_group_name,
                log_stream_name=log_stream.log_stream_name)

        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
        self.delivery_stream = firehose.CfnDeliveryStream(
            self, "DeliveryStream", delivery_stream_name=self.delivery_stream_name,
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=stream.stream_arn, role_arn=self.role.role_arn),
            amazonopensearchservice_destination_configuration=firehose.CfnDeliveryStream
            .AmazonopensearchserviceDestinationConfigurationProperty(
                domain_arn=domain.domain_arn, index_name=index_alias, index_rotation_period="NoRotation",
                role_arn=self.role.role_arn,
                buffering_hints=firehose.CfnDeliveryStream.AmazonopensearchserviceBufferingHintsProperty(
                    interval_in_seconds=buffer_seconds, size_in_m_bs=buffer_mb),
                retry_options=firehose.CfnDeliveryStream.AmazonopensearchserviceRetryOptionsProperty(
                    duration_in_seconds=retry_seconds),
                s3_backup_mode="FailedDocumentsOnly",
                s3_configuration=firehose.CfnDeliveryStream.S3DestinationConfigurationProperty(
                    bucket_arn=bucket.bucket_arn, role_arn=self.role.role_arn, prefix=FAILED_PREFIX,
                    error_output_prefix=f"{FAILED_PREFIX}errors/!{{firehose:error-output-type}}/",
                    compression_format="GZIP",
                    encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                        kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                            awskms_key_arn=key.key_arn)),
                    cloud_watch_logging_options=logging(backup_log)),
                cloud_watch_logging_options=logging(delivery_log),
                vpc_configuration=firehose.CfnDeliveryStream.VpcConfigurationProperty(
                    role_arn=self.role.role_arn, subnet_ids=subnets,
                    security_group_ids=[self.security_group.security_group_id])))
        self.delivery_stream.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        acknowledge(self.delivery_stream, "KDF1", "The delivery stream reads a Kinesis stream encrypted with "
                    "the data key; Firehose server-side encryption applies to Direct PUT only, and the domain "
                    "and the failed-document backup are encrypted with the same key")
        self.alarms = self._alarms(alarm_topic, buffer_seconds)

    def _role(self, stream: kinesis.IStream, domain: SearchDomain, bucket: s3.IBucket, key: kms.IKey) -> iam.Role:
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
                        description="Firehose: read the stream, index into the domain, back up failures")
        role.add_to_policy(iam.PolicyStatement(
            actions=["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
                     "kinesis:GetRecords", "kinesis:ListShards"], resources=[stream.stream_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                               resources=[key.key_arn]))
        role.add_to_policy(iam.PolicyStatement(
            actions=["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"],
            resources=[domain.domain_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                                               resources=[f"{domain.domain_arn}/*"]))
        acknowledge_resource(role, f"{domain.domain_arn}/*", "Firehose writes with _bulk and reads the "
                             "cluster's state (_cluster/health, _nodes) on the one domain; OpenSearch ARNs "
                             "name paths of that domain")
        role.add_to_policy(iam.PolicyStatement(
            actions=["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                     "s3:ListBucketMultipartUploads", "s3:PutObject"],
            resources=[bucket.bucket_arn, bucket.arn_for_objects(f"{FAILED_PREFIX}*")]))
        acknowledge_resource(role, bucket.arn_for_objects(f"{FAILED_PREFIX}*"), "Firehose names the backup "
                             "objects by time at delivery; the grant is limited to the failed-documents prefix")
        self.log_group.grant_write(role)
        # Delivery into the VPC: Firehose creates and describes its network interfaces, calls EC2
        # grants on no narrower resource (AWS's documented policy for VPC delivery).
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSubnets",
                     "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface",
                     "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"], resources=["*"]))
        acknowledge_resource(role, "*", "Firehose creates and describes its network interfaces in the isolated "
                             "subnets to reach the domain; EC2 grants these calls on no narrower resource")
        policy = role.node.find_child("DefaultPolicy")
        for check, kind in (("CKV_AWS_111", "write"), ("CKV_AWS_109", "permissions-management")):
            skip_check(policy, check, f"The only {kind} actions on '*' are the EC2 network-interface calls "
                       "Firehose makes to deliver into the VPC (AWS's documented policy); every other statement "
                       "names the stream, the key, the domain, the backup prefix and the log group")
        acknowledge(role, f"IAM5[Resource::<{logical_id(bucket)}.Arn>/{FAILED_PREFIX}*]",
                    "Firehose names the backup objects by time at delivery, under the failed-documents prefix")
        return role

    def _alarms(self, topic: sns.ITopic | None, buffer_seconds: int) -> list[cloudwatch.Alarm]:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/Firehose", metric_name=name, statistic=statistic,
                                     period=FIVE_MINUTES, dimensions_map={"DeliveryStreamName": self.delivery_stream_name})
        return [
            alarm_when(self, "DeliveryFailing", topic=topic, below=1,
                       metric=metric("DeliveryToAmazonOpenSearchService.Success", "Minimum"),
                       description="Firehose failed to index documents; failed ones are under search-failed/"),
            alarm_when(self, "DeliveryStale", topic=topic, above=max(900, buffer_seconds * 3),
                       metric=metric("DeliveryToAmazonOpenSearchService.DataFreshness", "Maximum"),
                       description="Documents wait in Firehose longer than 15 minutes"),
            alarm_when(self, "BackupFailing", topic=topic, below=1,
                       metric=metric("DeliveryToS3.Success", "Minimum"),
                       description="Firehose could not back failed documents up to S3"),
        ]
