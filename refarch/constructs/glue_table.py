"""A Glue database and a Parquet table over an S3 prefix, its columns given in Python."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

# Hive/Glue primitive types a column may have.
GLUE_TYPES = ("string", "int", "bigint", "smallint", "tinyint", "double", "float", "boolean",
              "timestamp", "date", "binary")
_DECIMAL = re.compile(r"^decimal\(\d{1,2},\d{1,2}\)$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def glue_database(scope: Construct, id: str, *, name: str, description: str) -> glue.CfnDatabase:
    if not _NAME.match(name):
        raise ValueError(f"glue database name={name!r}: lower-case letters, digits and _")
    stack = Stack.of(scope)
    return glue.CfnDatabase(scope, id, catalog_id=stack.account, database_input=glue.CfnDatabase.DatabaseInputProperty(
        name=name, description=description))


class PartitionedParquetTable(Construct):
    """External Parquet table partitioned by a `YYYY-MM-DD` date key (`dt=` by default).

    With `projected`, Athena finds partitions from the date range without a crawler or
    MSCK REPAIR, so data written by Firehose or a job is queryable at once.
    """

    def __init__(self, scope: Construct, id: str, *, database: glue.CfnDatabase, name: str,
                 columns: Sequence[tuple[str, str]], bucket: s3.IBucket, prefix: str,
                 partition_key: str = "dt", first_partition: str = "2024-01-01",
                 projected: bool = True, description: str = "") -> None:
        super().__init__(scope, id)
        _validate_columns(name, columns, partition_key)
        if not _NAME.match(name):
            raise ValueError(f"PartitionedParquetTable name={name!r}: lower-case letters, digits and _")
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ValueError(f"PartitionedParquetTable prefix={prefix!r}: like 'logs/'")
        stack = Stack.of(self)
        self.columns = tuple(columns)
        self.name = name
        self.first_partition = first_partition
        self.database_name = database.ref
        location = f"s3://{bucket.bucket_name}/{prefix}"
        self.table = glue.CfnTable(self, "Table", catalog_id=stack.account, database_name=database.ref,
                                   table_input=glue.CfnTable.TableInputProperty(
            name=name, description=description, table_type="EXTERNAL_TABLE",
            parameters={"classification": "parquet", "parquet.compression": "SNAPPY",
                        **(_date_projection(partition_key, first_partition, location) if projected else {})},
            partition_keys=[glue.CfnTable.ColumnProperty(name=partition_key, type="string")],
            storage_descriptor=_parquet_storage(location, columns)))
        self.table_arn = stack.format_arn(service="glue", resource="table", resource_name=f"{database.ref}/{name}")
        self.database_arn = stack.format_arn(service="glue", resource="database", resource_name=database.ref)
        self.catalog_arn = stack.format_arn(service="glue", resource="catalog")


class ParquetTable(Construct):
    """External Parquet table over one S3 location, not partitioned (e.g. a pipeline's
    `dt=undated/` partition: lines whose own date no projection covers)."""

    def __init__(self, scope: Construct, id: str, *, database: glue.CfnDatabase, name: str,
                 columns: Sequence[tuple[str, str]], location: str, description: str = "") -> None:
        super().__init__(scope, id)
        _validate_columns(name, columns, partition_key="")
        if not _NAME.match(name):
            raise ValueError(f"ParquetTable name={name!r}: lower-case letters, digits and _")
        self.name = name
        self.table = glue.CfnTable(self, "Table", catalog_id=Stack.of(self).account, database_name=database.ref,
                                   table_input=glue.CfnTable.TableInputProperty(
            name=name, description=description, table_type="EXTERNAL_TABLE",
            parameters={"classification": "parquet", "parquet.compression": "SNAPPY"},
            storage_descriptor=_parquet_storage(location, columns)))


def _parquet_storage(location: str, columns: Sequence[tuple[str, str]]) -> glue.CfnTable.StorageDescriptorProperty:
    return glue.CfnTable.StorageDescriptorProperty(
        location=location,
        columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in columns],
        input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        serde_info=glue.CfnTable.SerdeInfoProperty(
            serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"))


def _date_projection(key: str, first: str, location: str) -> dict[str, str]:
    # To tomorrow: a writer may date a record a day ahead of the clock (time zones, skew),
    # and what it writes must be queryable at once.
    return {
        "projection.enabled": "true",
        f"projection.{key}.type": "date",
        f"projection.{key}.format": "yyyy-MM-dd",
        f"projection.{key}.range": f"{first},NOW+1DAYS",
        f"projection.{key}.interval": "1",
        f"projection.{key}.interval.unit": "DAYS",
        "storage.location.template": f"{location}{key}=${{{key}}}/",
    }


def _validate_columns(table: str, columns: Sequence[tuple[str, str]], partition_key: str) -> None:
    names = [n for n, _ in columns]
    if not columns or len(set(names)) != len(names):
        raise ValueError(f"table {table}: columns must be non-empty with unique names, got {names}")
    for name, kind in columns:
        if not _NAME.match(name) or name == partition_key:
            raise ValueError(f"table {table}: column name {name!r} is not allowed")
        if kind not in GLUE_TYPES and not _DECIMAL.match(kind):
            raise ValueError(f"table {table}: column {name} type {kind!r}: allowed "
                             + ", ".join(GLUE_TYPES) + ", decimal(p,s)")
