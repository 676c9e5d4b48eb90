"""StreamingLogAnalytics: clickstream from websites -> Kinesis -> Flink SQL -> the S3 lake,
OpenSearch and Redshift, every rejected record kept with its reason."""

from __future__ import annotations

import math

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch import clickstream_schema as schema
from refarch.constructs.alarms import ops_topic
from refarch.constructs.buckets import secure_bucket
from refarch.constructs.collection_api import StreamCollectionApi
from refarch.constructs.firehose_opensearch import StreamToOpenSearch
from refarch.constructs.flink_application import FlinkSqlApplication
from refarch.constructs.glue_table import glue_database
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.named_queries import NamedQueries
from refarch.constructs.outputs import add_outputs
from refarch.constructs.redshift_streaming import RedshiftStreamingIngestion
from refarch.constructs.search_domain import SearchDomain
from refarch.constructs.search_index_setup import SearchIndexSetup
from refarch.constructs.stream import EncryptedStream
from refarch.constructs.streams_to_lake import LakeTable, StreamsToLake
from refarch.paths import FLINK_CONNECTOR_JAR, FLINK_ROOT, LAMBDA_ROOT, SQL_ROOT
from refarch.stacks.redshift_warehouse import RedshiftWarehouseStack
from refarch.streaming_log_settings import StreamingLogSettings
from refarch.streaming_log_sizing import source_gb_per_day

INDEX_ALIAS = "clickstream"
ATHENA_QUERIES = SQL_ROOT / "athena" / "clickstream"


class StreamingLogStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: StreamingLogSettings, stage: str, azs: int,
                 data_key: kms.IKey, vpc: ec2.IVpc, access_logs: s3.IBucket, retain_data: bool,
                 warehouse: RedshiftWarehouseStack, workgroup: str, log_retention_days: int,
                 powertools_layer_version: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        logs = dict(log_retention_days=log_retention_days, removal_policy=removal)
        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)

        def stream(name: str, shards: int):
            return EncryptedStream(self, name, key=data_key, shards=shards,
                                   retention_hours=settings.stream_retention_hours).stream
        self.events = stream("Events", settings.raw_shards)
        self.clean = stream("CleanEvents", settings.clean_shards)
        self.windows, self.dead_letters, self.alerts = (stream(n, 1) for n in ("Windows", "DeadLetters", "Alerts"))

        self.api = StreamCollectionApi(
            self, "Collect", stream=self.events, key=data_key, request_schema=schema.request_schema(settings.batch_max),
            batch_field="events", partition_key_field="visitor_id", allowed_origins=settings.allowed_origins,
            rate_limit=settings.rate_limit, burst_limit=settings.burst_limit, alarm_topic=self.ops_topic, **logs)
        self.job = FlinkSqlApplication(
            self, "ClickstreamJob", entry_point=FLINK_ROOT / "main.py", job_folder=FLINK_ROOT / "streaming_log",
            source=self.events,
            sinks={"clean": self.clean, "deadletters": self.dead_letters, "windows": self.windows,
                   "alerts": self.alerts},
            job_properties={"state.ttl": f"{settings.dedup_minutes} min",
                            "source.idle.timeout": f"{settings.idle_timeout_seconds} s"},
            key=data_key, vpc=vpc, connector_jar=FLINK_CONNECTOR_JAR, parallelism=settings.parallelism,
            checkpoint_interval=Duration.seconds(settings.checkpoint_seconds), alarm_topic=self.ops_topic, **logs)

        self.bucket = secure_bucket(self, "Lake", key=data_key, access_logs=access_logs, retain=retain_data)
        self.database_name = f"refarch_clickstream_{stage}"
        database = glue_database(self, "Database", name=self.database_name,
                                 description="refarch clickstream: clean events, windows, dead letters")
        self.lake = StreamsToLake(self, "ToLake", bucket=self.bucket, database=database, key=data_key, tables=[
            LakeTable("Events", self.clean, "clickstream_events", schema.glue_columns(), ".event_time[0:10]",
                      "Every valid clickstream event once, partitioned by its event date"),
            LakeTable("Windows", self.windows, "clickstream_windows", schema.WINDOW_COLUMNS, ".window_start[0:10]",
                      "Page views per minute, 5xx rate over 5 minutes, visitor sessions"),
            LakeTable("DeadLetters", self.dead_letters, "clickstream_dead_letters", schema.DEAD_LETTER_COLUMNS,
                      ".received_at[0:10]", "Records the job rejected, whole, with the reason")],
            alarm_topic=self.ops_topic, **logs)
        self.queries = NamedQueries(self, "Queries", workgroup=workgroup, database=self.database_name,
                                    folder=ATHENA_QUERIES)
        self.queries.node.add_dependency(database)
        self._search(settings, stage, azs, data_key, vpc, powertools_layer_version, logs)
        # A named export: the setup function's ARN reads as what it is in both templates and in cdk-nag's findings.
        setup_arn = warehouse.export_value(warehouse.setup.function.function_arn,
                                           name=f"{warehouse.stack_name}-SetupFunctionArn")
        self.warehouse_ingestion = RedshiftStreamingIngestion(
            self, "ToWarehouse", stream=self.clean, key=data_key,
            ingestion_role_arn=warehouse.streaming_role.role_arn, setup_function_arn=setup_arn,
            variables={"STREAM_NAME": self.clean.stream_name, "STREAMING_ROLE_ARN": warehouse.streaming_role.role_arn},
            **logs)
        add_outputs(self, {
            "CollectUrl": self.api.url, "EventsStreamName": self.events.stream_name,
            "CleanStreamName": self.clean.stream_name, "WindowsStreamName": self.windows.stream_name,
            "DeadLettersStreamName": self.dead_letters.stream_name, "AlertsStreamName": self.alerts.stream_name,
            "LakeBucketName": self.bucket.bucket_name, "DatabaseName": self.database_name,
            "SearchDomainName": self.domain.domain_name, "SearchEndpoint": self.domain.endpoint,
            "IndexAlias": INDEX_ALIAS, "AllowedOrigin": settings.allowed_origins[0],
            "CollectApiId": self.api.api.rest_api_id, "CollectStage": self.api.api.deployment_stage.stage_name,
            "SearchDeliveryStreamName": self.search_delivery.delivery_stream_name,
            "WarehouseClusterIdentifier": warehouse.warehouse.cluster_identifier,
            "WarehouseDatabase": warehouse.warehouse.database, "WarehouseUser": warehouse.warehouse.admin_user})

    def _search(self, settings: StreamingLogSettings, stage: str, azs: int, key: kms.IKey, vpc: ec2.IVpc,
                powertools_layer_version: str, logs: dict) -> None:
        size = settings.search(azs)
        name = f"refarch-{stage}-clickstream"
        self.index_setup = SearchIndexSetup(self, "IndexSetup", vpc=vpc, key=key, domain_name=name,
                                            source=LAMBDA_ROOT / "search_index_setup",
                                            powertools_layer_version=powertools_layer_version, **logs)
        self.domain = SearchDomain(self, "Search", domain_name=name, vpc=vpc, key=key,
                                   instance_type=size.instance_type, instance_count=size.nodes,
                                   volume_gb=size.volume_gb, master_role=self.index_setup.role,
                                   dedicated_masters=settings.search_masters, alarm_topic=self.ops_topic, **logs)
        self.domain.allow_https_from(self.index_setup.security_group, "Index setup at deploy")
        self.index_setup.security_group.add_egress_rule(self.domain.security_group, ec2.Port.tcp(443),
                                                        "HTTPS to the domain")
        self.search_delivery = StreamToOpenSearch(self, "ToSearch", stream=self.clean, domain=self.domain,
                                                  index_alias=INDEX_ALIAS, bucket=self.bucket, key=key, vpc=vpc,
                                                  alarm_topic=self.ops_topic, **logs)
        # The logical id the rule had when it was added to the domain's group: EC2 refuses a
        # duplicate rule, and a new id would have an update create the same rule again first.
        self.search_delivery.domain_ingress.override_logical_id(
            "SearchSecurityGroupfromStreamingLogAnalyticsToSearchSecurityGroupB130355B4431FC5F49C")
        # A primary shard per ~30 GB of a day's documents (the index rolls over daily).
        shards = max(1, math.ceil(source_gb_per_day(settings.events_per_second, settings.event_size_kb) / 30))
        applied = self.index_setup.apply(endpoint=self.domain.endpoint, alias=INDEX_ALIAS,
                                         mapping=schema.opensearch_mapping(), shards=shards,
                                         replicas=settings.search_replicas,
                                         retention_days=settings.search_retention_days,
                                         writer_backend_role=self.search_delivery.role.role_arn)
        # Firehose must find the write alias (and the template) before its first document.
        self.search_delivery.delivery_stream.node.add_dependency(applied)
