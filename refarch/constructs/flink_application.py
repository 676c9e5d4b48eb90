"""A Flink SQL application on Managed Service for Apache Flink (runtime FLINK-1_20).

The application code is a zip assembled from the files it is given: the PyFlink entry
point (this project's jobs/flink/main.py), one job folder (its Kinesis DDL, views and
queries: every .sql file under it) and the Kinesis SQL connector jar under lib/. The zip is
staged in the app's output folder. The jar does not come from PyPI or npm (`make flink-deps`
fetches this project's). Without it the construct still synthesizes (tests and CI need no
jar), but the zip is not deployable, and `refarch deploy` refuses to ship it (see
`missing_connector`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisanalyticsv2 as flink
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from refarch.constructs.alarms import alarm_when
from refarch.constructs.checkov import skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge_resource
from refarch.constructs.staging import source_files, stage, staging_root

RUNTIME = "FLINK-1_20"
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
JOB_PROPERTIES_GROUP = "refarch.job"
MINUTE = Duration.minutes(1)
# How a restarted application restores its state (a custom snapshot needs a snapshot name).
RESTORE_TYPES = ("RESTORE_FROM_LATEST_SNAPSHOT", "SKIP_RESTORE_FROM_SNAPSHOT")
# aws-cdk-lib runs every AwsCustomResource of a stack on one provider function, a singleton
# of this id; its log group is one per stack too, under an id of its own.
_SDK_PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
_SDK_PROVIDER_LOGS_ID = f"{_SDK_PROVIDER_ID}Logs"


class FlinkSqlApplication(Construct):
    """Runs the SQL of `job_folder` with `entry_point`, reading `source`, writing `sinks`
    (property name -> stream); the job's name is the folder's name.

    In the isolated subnets, logs to an encrypted log group, checkpoints and snapshots on,
    parallelism and autoscaling from arguments; the role may read the source, write the
    sinks, use the key, write its logs and read its code, and nothing else.
    """

    def __init__(self, scope: Construct, id: str, *, entry_point: Path, job_folder: Path,
                 source: kinesis.IStream, sinks: Mapping[str, kinesis.IStream], key: kms.IKey,
                 vpc: ec2.IVpc, log_retention_days: int, removal_policy: RemovalPolicy,
                 connector_jar: Path, parallelism: int = 1, parallelism_per_kpu: int = 1,
                 autoscaling: bool = True, checkpoint_interval: Duration = MINUTE,
                 source_lag_alarm: Duration = Duration.minutes(5),
                 alarm_topic: sns.ITopic | None = None, start_on_deploy: bool = True,
                 restore: str = "RESTORE_FROM_LATEST_SNAPSHOT", allow_non_restored_state: bool = True,
                 job_properties: Mapping[str, str] | None = None) -> None:
        """`restore` and `allow_non_restored_state` apply when an update restarts the running
        application (a code or configuration change): by default it resumes from its latest
        snapshot, and state that no operator of the new code claims (a changed query) is
        dropped instead of failing the restart, so a changed query starts from empty state.
        `job_properties` are further runtime properties the job's SQL or main.py reads
        (e.g. attribution.minutes, source.idle.timeout)."""
        super().__init__(scope, id)
        if not entry_point.is_file():
            raise ValueError(f"FlinkSqlApplication entry_point={entry_point}: no such file")
        if not job_folder.is_dir() or not any(job_folder.rglob("*.sql")):
            raise ValueError(f"FlinkSqlApplication job_folder={job_folder}: not a folder of .sql files")
        job = job_folder.name
        if not 1 <= parallelism <= 1000 or not 1 <= parallelism_per_kpu <= 8:
            raise ValueError(f"FlinkSqlApplication parallelism={parallelism!r} (1 to 1000), "
                             f"parallelism_per_kpu={parallelism_per_kpu!r} (1 to 8)")
        if checkpoint_interval.to_seconds() < 1:
            raise ValueError("FlinkSqlApplication checkpoint_interval: at least 1 second")
        if restore not in RESTORE_TYPES:
            raise ValueError(f"FlinkSqlApplication restore={restore!r}: allowed {', '.join(RESTORE_TYPES)}")
        stack = Stack.of(self)
        self.connector_jar = connector_jar
        self.missing_connector = not connector_jar.is_file()
        self.code = assets.Asset(self, "Code", path=str(stage(
            f"flink-{job}", application_files(entry_point, job_folder, connector_jar), root=staging_root(self))))

        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        log_stream = logs.LogStream(self, "LogStream", log_group=self.log_group, removal_policy=removal_policy)
        self.security_group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                                description=f"Flink {job}: HTTPS to the VPC endpoints")
        self.security_group.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443),
                                            "HTTPS to the interface endpoints")
        self.role = self._role(source, sinks.values(), key, log_stream)

        properties = {**(job_properties or {}), "aws.region": stack.region, "source.stream.arn": source.stream_arn,
                      "job.name": job, **{f"sink.{name}.stream.arn": stream.stream_arn for name, stream in sinks.items()}}
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
        self.application = flink.CfnApplication(
            self, "Application", runtime_environment=RUNTIME, service_execution_role=self.role.role_arn,
            application_description=f"refarch Flink SQL job {job}",
            application_configuration=flink.CfnApplication.ApplicationConfigurationProperty(
                application_code_configuration=flink.CfnApplication.ApplicationCodeConfigurationProperty(
                    code_content_type="ZIPFILE",
                    code_content=flink.CfnApplication.CodeContentProperty(
                        s3_content_location=flink.CfnApplication.S3ContentLocationProperty(
                            bucket_arn=self.code.bucket.bucket_arn, file_key=self.code.s3_object_key))),
                environment_properties=flink.CfnApplication.EnvironmentPropertiesProperty(property_groups=[
                    _group(RUN_OPTIONS_GROUP, {"python": entry_point.name, "jarfile": f"lib/{connector_jar.name}"}),
                    _group(JOB_PROPERTIES_GROUP, properties)]),
                flink_application_configuration=flink.CfnApplication.FlinkApplicationConfigurationProperty(
                    checkpoint_configuration=flink.CfnApplication.CheckpointConfigurationProperty(
                        configuration_type="CUSTOM", checkpointing_enabled=True,
                        checkpoint_interval=int(checkpoint_interval.to_milliseconds()),
                        min_pause_between_checkpoints=int(checkpoint_interval.to_milliseconds() // 2)),
                    monitoring_configuration=flink.CfnApplication.MonitoringConfigurationProperty(
                        configuration_type="CUSTOM", log_level="INFO", metrics_level="APPLICATION"),
                    parallelism_configuration=flink.CfnApplication.ParallelismConfigurationProperty(
                        configuration_type="CUSTOM", parallelism=parallelism,
                        parallelism_per_kpu=parallelism_per_kpu, auto_scaling_enabled=autoscaling)),
                application_snapshot_configuration=flink.CfnApplication.ApplicationSnapshotConfigurationProperty(
                    snapshots_enabled=True),
                vpc_configurations=[flink.CfnApplication.VpcConfigurationProperty(
                    subnet_ids=subnets, security_group_ids=[self.security_group.security_group_id])]),
            run_configuration=flink.CfnApplication.RunConfigurationProperty(
                application_restore_configuration=flink.CfnApplication.ApplicationRestoreConfigurationProperty(
                    application_restore_type=restore),
                flink_run_configuration=flink.CfnApplication.FlinkRunConfigurationProperty(
                    allow_non_restored_state=allow_non_restored_state)))
        self.application.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        self.logging = flink.CfnApplicationCloudWatchLoggingOption(
            self, "Logging", application_name=self.application.ref,
            cloud_watch_logging_option=flink.CfnApplicationCloudWatchLoggingOption.CloudWatchLoggingOptionProperty(
                log_stream_arn=stack.format_arn(
                    service="logs", resource="log-group",
                    resource_name=f"{self.log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME)))
        self.alarms = self._alarms(alarm_topic, source_lag_alarm)
        if start_on_deploy:
            self.starter = self._start_when_created(key, log_retention_days, removal_policy)

    def _start_when_created(self, key: kms.IKey, log_retention_days: int,
                            removal_policy: RemovalPolicy) -> cr.AwsCustomResource:
        """CloudFormation creates an application without running it: start it once, on
        creation. Later code updates restart a running application from its snapshot."""
        stack = Stack.of(self)
        application_arn = stack.format_arn(service="kinesisanalytics", resource="application",
                                           resource_name=self.application.ref)
        # The provider is one per stack, so is its (encrypted) log group: created with the
        # provider, or not at all (a provider made before this decides its own logs).
        provider_logs = stack.node.try_find_child(_SDK_PROVIDER_LOGS_ID)
        if provider_logs is None and stack.node.try_find_child(_SDK_PROVIDER_ID) is None:
            provider_logs = encrypted_log_group(stack, _SDK_PROVIDER_LOGS_ID, key=key,
                                                retention_days=log_retention_days, removal_policy=removal_policy)
        starter = cr.AwsCustomResource(
            self, "StartOnCreate", install_latest_aws_sdk=False, log_group=provider_logs,
            on_create=cr.AwsSdkCall(
                service="KinesisAnalyticsV2", action="StartApplication",
                parameters={"ApplicationName": self.application.ref, "RunConfiguration": {
                    "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT"}}},
                physical_resource_id=cr.PhysicalResourceId.of(f"{self.node.path}/start")),
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["kinesisanalytics:StartApplication"], resources=[application_arn])]))
        starter.node.add_dependency(self.logging)
        return starter

    def _role(self, source: kinesis.IStream, sinks, key: kms.IKey, log_stream: logs.LogStream) -> iam.Role:
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("kinesisanalytics.amazonaws.com"),
                        description="Managed Flink: read the source, write the sinks, logs, code")
        role.add_to_policy(iam.PolicyStatement(
            actions=["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards",
                     "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:SubscribeToShard",
                     "kinesis:DescribeStreamConsumer", "kinesis:RegisterStreamConsumer"],
            resources=[source.stream_arn]))
        role.add_to_policy(iam.PolicyStatement(
            actions=["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards",
                     "kinesis:DescribeStreamSummary"],
            resources=[sink.stream_arn for sink in sinks]))
        role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                               resources=[key.key_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["logs:PutLogEvents", "logs:DescribeLogStreams"],
                                               resources=[self.log_group.log_group_arn]))
        log_groups = Stack.of(self).format_arn(service="logs", resource="log-group", resource_name="*",
                                                arn_format=ArnFormat.COLON_RESOURCE_NAME)
        role.add_to_policy(iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=[log_groups]))
        acknowledge_resource(role, log_groups, "Managed Flink checks its log group exists with "
                             "DescribeLogGroups, which lists groups and takes no single-group ARN")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"],
                                               resources=[self.code.bucket.arn_for_objects(self.code.s3_object_key)]))
        # Attaching the application to the VPC: EC2 network-interface calls, which take no
        # resource ARN until the interface exists.
        role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                     "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface",
                     "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
            resources=["*"]))
        acknowledge_resource(role, "*", "Managed Flink creates and describes its network interfaces in the "
                             "isolated subnets; EC2 grants these calls on no narrower resource")
        policy = role.node.find_child("DefaultPolicy")
        for check, kind in (("CKV_AWS_111", "write"), ("CKV_AWS_109", "permissions-management")):
            skip_check(policy, check, f"The only {kind} actions on '*' are the EC2 network-interface calls "
                       "Managed Flink makes to attach the application to its subnets (AWS's documented VPC "
                       "policy); every other statement names the application's own streams, key, logs and code")
        return role

    def _alarms(self, topic: sns.ITopic | None, source_lag: Duration) -> list[cloudwatch.Alarm]:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/KinesisAnalytics", metric_name=name, statistic=statistic,
                                     period=MINUTE, dimensions_map={"Application": self.application.ref})
        return [
            alarm_when(self, "Downtime", topic=topic, above=0, periods=2,
                       metric=metric("downtime", "Maximum"), description="The Flink job is not running"),
            alarm_when(self, "FailedCheckpoints", topic=topic, above=0,
                       metric=metric("numberOfFailedCheckpoints", "Maximum"),
                       description="Flink checkpoints are failing"),
            alarm_when(self, "SourceLag", topic=topic, above=source_lag.to_milliseconds(), periods=5,
                       metric=metric("millisBehindLatest", "Maximum"),
                       description="The job is falling behind its source stream"),
        ]


def application_files(entry_point: Path, job_folder: Path, connector_jar: Path) -> list[tuple[Path, Path]]:
    """The application zip's files: the entry point, the job folder's .sql files under the
    folder's name, and lib/<connector jar> when it is present."""
    files = [(Path(entry_point.name), entry_point)]
    files += [(relative, path) for relative, path in source_files(job_folder, Path(job_folder.name))
              if relative.suffix == ".sql"]
    if connector_jar.is_file():
        files.append((Path("lib") / connector_jar.name, connector_jar))
    return files


def _group(name: str, values: Mapping[str, str]) -> flink.CfnApplication.PropertyGroupProperty:
    return flink.CfnApplication.PropertyGroupProperty(property_group_id=name, property_map=dict(values))

