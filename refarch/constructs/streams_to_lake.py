"""Several Kinesis streams into one lake bucket: a Parquet Glue table and a Firehose per stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.firehose_parquet import FirehoseToParquet
from refarch.constructs.glue_table import PartitionedParquetTable


@dataclass(frozen=True)
class LakeTable:
    """A stream and the table its records become: `partition_query` is JQ giving a record's date."""
    id: str
    stream: kinesis.IStream
    table: str
    columns: Sequence[tuple[str, str]]
    partition_query: str
    description: str

    @property
    def prefix(self) -> str:
        return f"{self.table}/"


class StreamsToLake(Construct):
    """Each table is projected on `dt=` (Athena sees new dates at once), fed by its own
    Firehose stream reading the Kinesis stream (not Direct PUT), converted to Parquet against
    the table's schema, errors under `errors/`."""

    def __init__(self, scope: Construct, id: str, *, bucket: s3.IBucket, database: glue.CfnDatabase,
                 key: kms.IKey, tables: Sequence[LakeTable], log_retention_days: int,
                 removal_policy: RemovalPolicy, buffer_mb: int = 64,
                 buffer_interval: Duration = Duration.seconds(300), alarm_topic: sns.ITopic | None = None) -> None:
        super().__init__(scope, id)
        self.tables: dict[str, PartitionedParquetTable] = {}
        self.deliveries: dict[str, FirehoseToParquet] = {}
        for spec in tables:
            table = PartitionedParquetTable(self, f"{spec.id}Table", database=database, name=spec.table,
                                            columns=spec.columns, bucket=bucket, prefix=spec.prefix,
                                            description=spec.description)
            table.node.add_dependency(database)
            self.tables[spec.table] = table
            self.deliveries[spec.table] = FirehoseToParquet(
                self, f"{spec.id}Delivery", bucket=bucket, key=key, table=table, table_prefix=spec.prefix,
                processor=None, partition_query=spec.partition_query, source_stream=spec.stream,
                source_backup=False, log_retention_days=log_retention_days, removal_policy=removal_policy,
                buffer_mb=buffer_mb, buffer_interval=buffer_interval, alarm_topic=alarm_topic)
