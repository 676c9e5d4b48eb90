"""BatchDataLake: S3 zones -> Glue crawler and Spark ETL on a schedule -> Athena."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.config import LakeSettings
from refarch.constructs.alarms import ops_topic
from refarch.constructs.athena import AthenaWorkgroup
from refarch.constructs.buckets import expire_after, secure_bucket
from refarch.constructs.data_lake_storage import DataLakeStorage
from refarch.constructs.glue_etl import (
    GlueFailureNotices, GlueSecurity, PartitionCrawler, RawZoneCrawler, ScheduledCrawlThenEtl, SparkEtlJob,
)
from refarch.constructs.glue_table import PartitionedParquetTable, glue_database
from refarch.constructs.nag import acknowledge, acknowledge_resource
from refarch.constructs.outputs import add_outputs
from refarch.paths import JOBS_ROOT, SQL_ROOT

RAW_PREFIX, CURATED_PREFIX, REJECTED_PREFIX, QUALITY_PREFIX = "trades/", "trades/", "trades_rejected/", "_quality/"
RESULTS_PREFIX = "results/"   # where the Athena workgroup writes query results
# The curated schema the ETL job writes (tests compare it with the Parquet Spark writes).
TRADES_COLUMNS = (("trade_id", "string"), ("symbol", "string"), ("side", "string"),
                  ("quantity", "bigint"), ("price", "decimal(18,4)"), ("trade_ts", "timestamp"))
REJECTED_COLUMNS = (("trade_id", "string"), ("symbol", "string"), ("side", "string"),
                    ("quantity", "string"), ("price", "string"), ("trade_ts", "string"),
                    ("malformed_record", "string"), ("reason", "string"))


class BatchDataLakeStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: LakeSettings, data_key: kms.IKey,
                 access_logs: s3.IBucket, retain_data: bool, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        self.storage = DataLakeStorage(self, "Lake", key=data_key, access_logs=access_logs,
                                       retain=retain_data, name_prefix=self.stack_name,
                                       curated_versions_days=settings.curated_versions_days)
        raw, curated = self.storage.raw, self.storage.curated
        self.database = glue_database(self, "Database", name=settings.database,
                                      description="refarch trade analytics lake")
        # Curated tables are declared, not crawled: their types are a contract with the queries.
        self.trades = PartitionedParquetTable(
            self, "Trades", database=self.database, name="trades", columns=TRADES_COLUMNS,
            bucket=curated, prefix=CURATED_PREFIX, partition_key="trade_date", first_partition=settings.first_trade_date,
            description="Curated trades, one row per trade, partitioned by UTC trade date")
        self.rejected = PartitionedParquetTable(
            self, "Rejected", database=self.database, name="trades_rejected", columns=REJECTED_COLUMNS,
            bucket=curated, prefix=REJECTED_PREFIX, partition_key="trade_date", projected=False,
            description="Raw rows the ETL job rejected, with the reason")

        security = GlueSecurity(self, "GlueSecurity", key=data_key)
        self.crawler = RawZoneCrawler(self, "RawCrawler", bucket=raw, prefix=RAW_PREFIX,
                                      database=settings.database, key=data_key, security=security)
        self.job = SparkEtlJob(
            self, "CurateTrades", script=JOBS_ROOT / "glue" / "trades_etl.py", key=data_key, security=security, worker_type=settings.worker_type, workers=settings.workers,
            arguments={
                "--source_path": f"s3://{raw.bucket_name}/{RAW_PREFIX}",
                "--target_path": f"s3://{curated.bucket_name}/{CURATED_PREFIX}",
                "--rejected_path": f"s3://{curated.bucket_name}/{REJECTED_PREFIX}",
                "--quality_path": f"s3://{curated.bucket_name}/{QUALITY_PREFIX}",
                # The job rejects trades the table's projection (first_trade_date .. tomorrow) misses.
                "--first_trade_date": settings.first_trade_date,
            })
        # Each run's COPY manifest of the curated files it wrote, for the warehouse loader.
        self.load_manifests_prefix = f"{QUALITY_PREFIX}{self.job.name}/"
        raw.grant_read(self.job.role, f"{RAW_PREFIX}*")
        curated.grant_read_write(self.job.role)  # dynamic partition overwrite stages and replaces
        curated.grant_delete(self.job.role)
        self._acknowledge_lake_grants(raw, curated)
        # After each ETL run, register the partitions it wrote: Redshift Spectrum ignores
        # projection, and rejected rows without a date sit in a null partition projection
        # cannot name.
        self.partitions = PartitionCrawler(
            self, "CuratedPartitions", database=settings.database, bucket=curated, key=data_key,
            security=security, tables={self.trades.name: CURATED_PREFIX, self.rejected.name: REJECTED_PREFIX})
        self.partitions.crawler.node.add_dependency(self.trades.table, self.rejected.table)
        self.workflow = ScheduledCrawlThenEtl(self, "Nightly", crawler=self.crawler, job=self.job,
                                              schedule=settings.crawl_schedule,
                                              after_job=self.partitions)

        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)
        self.failure_notices = GlueFailureNotices(
            self, "FailureNotices", topic=self.ops_topic, jobs=[self.job.name],
            crawlers=[self.crawler.name, self.partitions.name])

        results = secure_bucket(
            self, "QueryResults", key=data_key, access_logs=access_logs, retain=retain_data,
            lifecycle_rules=[expire_after(settings.query_results_days, rule_id="ExpireQueryResults",
                                          prefix=RESULTS_PREFIX)],
            retention=f"{RESULTS_PREFIX} expire after {settings.query_results_days} days", noncurrent_days=1)
        self.athena = AthenaWorkgroup(self, "Analysts", results_bucket=results, key=data_key,
                                      bytes_scanned_cutoff=settings.bytes_scanned_cutoff_mb * 1024 * 1024,
                                      database=settings.database, queries_folder=SQL_ROOT / "athena",
                                      results_prefix=RESULTS_PREFIX)
        for named in self.athena.named_queries.values():
            named.node.add_dependency(self.database)
        add_outputs(self, {
            "RawBucketName": self.storage.raw_bucket_name, "RawPrefix": RAW_PREFIX,
            "CuratedBucketName": self.storage.curated_bucket_name,
            "WorkflowName": self.workflow.workflow.ref, "WorkGroupName": self.athena.name,
            "DatabaseName": settings.database,
        })

    def _acknowledge_lake_grants(self, raw: s3.IBucket, curated: s3.IBucket) -> None:
        role = self.job.role
        acknowledge_resource(role, raw.arn_for_objects(f"{RAW_PREFIX}*"),
                             "The job reads every raw object under the trades prefix of the raw bucket")
        acknowledge_resource(role, curated.arn_for_objects("*"),
                             "The job writes and replaces partitions of its own curated bucket, whose "
                             "object keys are created per run; no other bucket is writable")
        for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"):
            acknowledge(role, f"IAM5[Action::{action}]",
                        f"{action} comes from CDK's bucket grant and applies to the lake buckets only")
        acknowledge(role, "IAM5[Action::kms:GenerateDataKey*]",
                    "CDK's bucket grant names the GenerateDataKey family on the lake's one data key")
        acknowledge(role, "IAM5[Action::kms:ReEncrypt*]",
                    "CDK's bucket grant names the ReEncrypt family on the lake's one data key")

