"""AdTech: ad servers -> Kinesis -> Flink SQL (validation, click de-duplication, attribution, CTR
windows) -> placement updater Lambda -> DynamoDB -> placement API (API Gateway + Lambda)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.config import AdTechSettings
from refarch.constructs.adtech_dashboard import AdTechLoopDashboard, updater_metric
from refarch.constructs.alarms import FIVE_MINUTES, alarm_when, ops_topic
from refarch.constructs.checkov import CONCURRENCY, DLQ, skip_check
from refarch.constructs.flink_application import FlinkSqlApplication
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.nag import acknowledge
from refarch.constructs.outputs import add_outputs
from refarch.constructs.placement_api import PlacementApi
from refarch.constructs.placements_table import PlacementsTable
from refarch.constructs.python_function import PythonFunction
from refarch.constructs.stream import EncryptedStream
from refarch.constructs.stream_consumer import StreamConsumer
from refarch.constructs.stream_producer import StreamProducerAccess
from refarch.paths import FLINK_CONNECTOR_JAR, FLINK_ROOT, LAMBDA_ROOT

DEAD_LETTER_RETENTION_HOURS = 168   # a week to look at what the job rejected
CTR_RETENTION_HOURS = 168           # a week to replay a batch the updater failed (refarch replay)
UPDATER_SERVICE = "placement-updater"   # the updater's Powertools service (its metrics' dimension)
ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


class AdTechStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: AdTechSettings, data_key: kms.IKey,
                 vpc: ec2.IVpc, retain_data: bool, log_retention_days: int, powertools_layer_version: str,
                 **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)
        self.events = EncryptedStream(self, "AdEvents", key=data_key, shards=settings.shards,
                                      retention_hours=settings.retention_hours).stream
        # One record per placement, ad and minute: far below a shard's 1,000 records/s.
        self.ctr = EncryptedStream(self, "PlacementCtr", key=data_key, shards=1,
                                   retention_hours=CTR_RETENTION_HOURS).stream
        self.dead_letters = EncryptedStream(self, "DeadLetters", key=data_key, shards=1,
                                            retention_hours=DEAD_LETTER_RETENTION_HOURS).stream
        self.ad_servers = StreamProducerAccess(self, "AdServers", stream=self.events, key=data_key,
                                               description="refarch ad servers: ad events in, placement decisions out")
        self.job = FlinkSqlApplication(
            self, "CtrJob", entry_point=FLINK_ROOT / "main.py", job_folder=FLINK_ROOT / "adtech",
            source=self.events, sinks={"ctr": self.ctr, "deadletters": self.dead_letters}, key=data_key, vpc=vpc,
            log_retention_days=log_retention_days, removal_policy=removal, connector_jar=FLINK_CONNECTOR_JAR,
            parallelism=settings.parallelism, alarm_topic=self.ops_topic, job_properties={
                "attribution.minutes": str(settings.attribution_minutes),
                "source.idle.timeout": f"{settings.idle_timeout_seconds} s",
                # De-duplication keys: kept well past the attribution window (a click's re-sends).
                "state.ttl": f"{max(60, 2 * settings.attribution_minutes)} min"})

        self.table = PlacementsTable(self, "Placements", key=data_key, removal_policy=removal).table
        self.quarantine = sqs.Queue(self, "UpdaterQuarantine", encryption=sqs.QueueEncryption.KMS,
                                    encryption_master_key=data_key, enforce_ssl=True,
                                    retention_period=Duration.days(14))
        acknowledge(self.quarantine, "SQS3", "The quarantine is the terminal place for records on the CTR "
                    "stream that are not windows, kept with their reason; nothing consumes it to fail again")
        common = dict(key=data_key, log_retention_days=log_retention_days, removal_policy=removal, vpc=vpc,
                      vpc_subnets=ISOLATED, powertools_layer_version=powertools_layer_version)
        updater = PythonFunction(
            self, "Updater", source=LAMBDA_ROOT / "placement_updater", handler="placement_updater.handler",
            timeout=Duration.seconds(60), **common, environment={
                "TABLE_NAME": self.table.table_name, "QUARANTINE_QUEUE_URL": self.quarantine.queue_url,
                "PRIOR_CTR": str(settings.prior_ctr), "PRIOR_IMPRESSIONS": str(settings.prior_impressions),
                "MIN_IMPRESSIONS": str(settings.min_impressions),
                "RANKING_TTL_HOURS": str(settings.ranking_ttl_hours)})
        self.updater = updater.function
        # Conditional UpdateItem on this table is its only write; no read, no delete.
        updater.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:UpdateItem"],
                                                       resources=[self.table.table_arn]))
        updater.role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"],
                                                       resources=[self.quarantine.queue_arn]))
        data_key.grant(updater.role, "kms:Decrypt", "kms:GenerateDataKey")
        skip_check(self.updater, DLQ, "Invoked only by the Kinesis event source mapping, whose on-failure "
                   "queue (with an alarm) keeps failed batches; a function DLQ applies to async calls")
        skip_check(self.updater, CONCURRENCY, "The event source mapping runs one batch per shard at a time, "
                   "and the CTR stream has one shard")
        self.consumer = StreamConsumer(self, "ConsumeCtr", stream=self.ctr, function=self.updater, key=data_key,
                                       stream_retention=Duration.hours(CTR_RETENTION_HOURS),
                                       min_replay_window=Duration.days(1),
                                       batch_size=settings.batch_size, alarm_topic=self.ops_topic)
        # The logical id the mapping had when CDK put it under the function: Lambda allows one
        # mapping per stream and function, and a new id would have an update create a second first.
        self.consumer.mapping.override_logical_id(
            "UpdaterFunctionKinesisEventSourceAdTechPlacementCtrStreamAB3B40CEFB981133")

        decider = PythonFunction(
            self, "Placement", source=LAMBDA_ROOT / "placement_api", handler="placement_api.handler",
            memory_mb=1024, timeout=Duration.seconds(5), **common, environment={
                "TABLE_NAME": self.table.table_name, "EXPLORATION_SHARE": str(settings.exploration_share),
                "FALLBACK_AD": settings.fallback_ad, "CACHE_SECONDS": str(settings.api_cache_seconds)})
        self.decider = decider.function
        decider.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[self.table.table_arn]))
        data_key.grant(decider.role, "kms:Decrypt")
        skip_check(self.decider, DLQ, "Invoked synchronously by API Gateway, which returns its errors to the "
                   "caller (and alarms on them); a function DLQ applies to asynchronous calls only")
        skip_check(self.decider, CONCURRENCY, "The API stage throttles requests (a setting), which bounds "
                   "the function's concurrency without reserving capacity away from the account")
        self.api = PlacementApi(
            self, "PlacementApi", function=self.decider, auth=settings.api_auth,
            rate_per_second=settings.api_rate_per_second, burst=settings.api_burst, p99_ms=settings.api_p99_ms,
            key=data_key, log_retention_days=log_retention_days, removal_policy=removal, alarm_topic=self.ops_topic)
        if self.api.invoke_policy is not None:
            self.ad_servers.role.add_managed_policy(self.api.invoke_policy)

        self.alarms = self._loop_alarms()
        self.dashboard = AdTechLoopDashboard(
            self, "LoopDashboard", events=self.events, dead_letters=self.dead_letters,
            application_name=self.job.application.ref, updater=self.updater, updater_service=UPDATER_SERVICE,
            table=self.table, api=self.api.api, api_function=self.decider)
        self._outputs(settings)

    def _loop_alarms(self) -> list[cloudwatch.Alarm]:
        written = cloudwatch.MathExpression(
            expression="stale / (replaced + merged + stale)", period=FIVE_MINUTES,
            using_metrics={name: updater_metric(metric, UPDATER_SERVICE, FIVE_MINUTES) for name, metric in (
                ("stale", "StaleWindowsRejected"), ("replaced", "RankingsReplaced"), ("merged", "RankingsMerged"))})
        return [
            alarm_when(self, "ProducersThrottled", topic=self.ops_topic, above=0,
                       metric=self.events.metric_write_provisioned_throughput_exceeded(
                           period=FIVE_MINUTES, statistic="Sum"),
                       description="Ad servers' puts are throttled: raise adtech_events_per_second"),
            alarm_when(self, "DeadLettersArrived", topic=self.ops_topic, above=0,
                       metric=self.dead_letters.metric_incoming_records(period=FIVE_MINUTES, statistic="Sum"),
                       description="The CTR job rejected ad events; the dead-letter stream holds them with reasons"),
            alarm_when(self, "QuarantinedWindows", topic=self.ops_topic, above=0,
                       metric=self.quarantine.metric_number_of_messages_sent(period=FIVE_MINUTES, statistic="Sum"),
                       description="Records on the CTR stream were not windows; quarantined with their reason"),
            alarm_when(self, "StaleWindows", topic=self.ops_topic, above=0.5, periods=3, metric=written,
                       description="Most windows reaching the updater are older than the stored ranking "
                                   "(a replay or a job restored from an old snapshot)"),
        ]

    def _outputs(self, settings: AdTechSettings) -> None:
        outputs = {
            "AdEventsStreamName": self.events.stream_name, "PlacementCtrStreamName": self.ctr.stream_name,
            "DeadLetterStreamName": self.dead_letters.stream_name, "PlacementsTableName": self.table.table_name,
            "UpdaterQuarantineQueueUrl": self.quarantine.queue_url, "AdServerRoleArn": self.ad_servers.role.role_arn,
            "ProducerPolicyArn": self.ad_servers.policy.managed_policy_arn,
            "PlacementApiId": self.api.api.rest_api_id, "PlacementApiStage": self.api.stage_name,
            "PlacementApiUrl": self.api.url, "PlacementApiAuth": settings.api_auth,
            "FallbackAd": settings.fallback_ad, "ExplorationShare": str(settings.exploration_share),
            **self.consumer.outputs()}
        if self.api.api_key is not None:
            outputs["PlacementApiKeyId"] = self.api.api_key.key_id
        if self.api.invoke_policy is not None:
            outputs["PlacementInvokePolicyArn"] = self.api.invoke_policy.managed_policy_arn
        add_outputs(self, outputs)
