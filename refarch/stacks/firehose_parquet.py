"""FirehoseParquet: access logs -> Lambda transform -> Parquet on S3 with a Glue schema."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when, ops_topic
from refarch.constructs.checkov import CONCURRENCY, DLQ, IN_VPC, skip_check
from refarch.constructs.buckets import expire_after, secure_bucket
from refarch.constructs.firehose_parquet import FirehoseToParquet
from refarch.constructs.glue_table import ParquetTable, PartitionedParquetTable, glue_database
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.python_function import PythonFunction
from refarch.constructs.outputs import add_outputs
from refarch.lambda_code import load_lambda_module
from refarch.paths import LAMBDA_ROOT

TABLE_PREFIX = "access_logs/"
UNDATED = load_lambda_module("log_transform", "log_transform_partition").UNDATED   # dt of undatable lines


def access_log_columns() -> tuple[tuple[str, str], ...]:
    """The Glue columns, as the transform Lambda declares them (one source of truth)."""
    return load_lambda_module("log_transform", "log_transform_parse").COLUMNS


class FirehoseParquetStack(Stack):
    def __init__(self, scope: Construct, id: str, *, data_key: kms.IKey, access_logs: s3.IBucket,
                 retain_data: bool, log_retention_days: int, powertools_layer_version: str,
                 database_name: str, buffer_mb: int, first_log_date: str = "2020-01-01",
                 backup_days: int = 90, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)
        # The Parquet is the data; the gzipped source backup and the error objects are there to
        # reprocess or inspect, for `backup_days`.
        self.bucket = secure_bucket(
            self, "Logs", key=data_key, access_logs=access_logs, retain=retain_data,
            lifecycle_rules=[expire_after(backup_days, rule_id=f"Expire{name.capitalize()}", prefix=f"{name}/")
                             for name in ("raw", "errors")],
            retention=f"{TABLE_PREFIX} kept until deleted / raw/ and errors/ expire after {backup_days} days")
        self.database = glue_database(self, "Database", name=database_name,
                                      description="refarch web access logs as Parquet")
        self.table = PartitionedParquetTable(
            self, "AccessLogs", database=self.database, name="access_logs",
            columns=access_log_columns(), bucket=self.bucket, prefix=TABLE_PREFIX, first_partition=first_log_date,
            description="Apache access logs converted to Parquet by Firehose, by the UTC date of each line")
        # Lines whose own date the projection does not cover (a clock far off) are kept here.
        self.undated = ParquetTable(
            self, "UndatedAccessLogs", database=self.database, name="access_logs_undated",
            columns=access_log_columns(), location=f"s3://{self.bucket.bucket_name}/{TABLE_PREFIX}dt={UNDATED}/",
            description=f"Access-log lines dated before {first_log_date} or after the day they arrived")
        self.transform = PythonFunction(
            self, "Transform", source=LAMBDA_ROOT / "log_transform", handler="log_transform.handler",
            key=data_key, log_retention_days=log_retention_days, removal_policy=removal,
            powertools_layer_version=powertools_layer_version, memory_mb=1024,
            timeout=Duration.minutes(3), environment={"FIRST_LOG_DATE": first_log_date})
        transform = self.transform.function
        skip_check(transform, DLQ, "Firehose invokes the transform synchronously and sends records "
                   "it fails to errors/processing-failed/ (alarmed); a function DLQ applies to async calls")
        skip_check(transform, IN_VPC, "The transform reads no data store: it parses the records "
                   "Firehose hands it and calls only Firehose's own API, so no VPC path would protect data")
        skip_check(transform, CONCURRENCY, "Firehose bounds its invocations (one per buffered "
                   "batch per delivery stream); reserving concurrency would only cap conversion throughput")
        self.delivery = FirehoseToParquet(
            self, "Delivery", bucket=self.bucket, key=data_key, table=self.table,
            table_prefix=TABLE_PREFIX, processor=self.transform.function,
            log_retention_days=log_retention_days, removal_policy=removal, buffer_mb=buffer_mb,
            alarm_topic=self.ops_topic)
        self.failed_lines_alarm = alarm_when(
            self, "UnparsedLines", topic=self.ops_topic, above=0,
            metric=cloudwatch.Metric(namespace="refarch", metric_name="RecordsFailed", statistic="Sum",
                                     period=FIVE_MINUTES, dimensions_map={"service": "log_transform"}),
            description="Log lines did not parse; they are under errors/processing-failed/")
        add_outputs(self, {
            "DeliveryStreamName": self.delivery.delivery_stream_name, "BucketName": self.bucket.bucket_name,
            "TablePrefix": TABLE_PREFIX, "TransformFunctionName": self.transform.function.function_name,
        })
