"""Direct-PUT Firehose that transforms records with Lambda and writes Parquet to S3."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.glue_table import PartitionedParquetTable
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge, acknowledge_resource, logical_id

# Record-format conversion needs at least 64 MB of buffer (the service rejects less).
MIN_BUFFER_MB, MAX_BUFFER_MB = 64, 128
DATE = "!{timestamp:yyyy-MM-dd}"            # arrival time: for errors and the source backup
EVENT_DATE = "!{partitionKeyFromLambda:dt}"  # the line's own date, as the processor returns it
QUERY_DATE = "!{partitionKeyFromQuery:dt}"   # the record's own date, as partition_query reads it


class FirehoseToParquet(Construct):
    """Direct PUT -> Lambda processor -> JSON-to-Parquet (Snappy) -> `dt=` partitions in S3.

    Converted records land under `<table prefix>dt=<key>/`, where the key is the
    `metadata.partitionKeys.dt` the processor returns with each Ok record (dynamic
    partitioning): the record's own date, so a query on a date finds it whenever it
    arrived. Records the processor or the conversion fails go under
    `errors/<failure type>/dt=.../`, and every source record is also kept, gzipped, under
    `raw/dt=.../` (both by arrival date). Everything is encrypted with `key`.

    Without a processor (`processor=None`), `partition_query` names the date instead: a JQ
    expression over each JSON record (e.g. `.event_time[0:10]`). With `source_stream` the
    delivery stream reads that Kinesis stream instead of taking Direct PUT (the stream is
    encrypted, and keeps its records for its retention, so `source_backup` may be off).
    """

    def __init__(self, scope: Construct, id: str, *, bucket: s3.IBucket, key: kms.IKey,
                 table: PartitionedParquetTable, table_prefix: str, processor: lambda_.IFunction | None,
                 log_retention_days: int, removal_policy: RemovalPolicy,
                 buffer_mb: int = 128, buffer_interval: Duration = Duration.seconds(300),
                 processor_buffer_mb: int = 1, alarm_topic: sns.ITopic | None = None,
                 source_stream: kinesis.IStream | None = None, partition_query: str | None = None,
                 source_backup: bool = True) -> None:
        super().__init__(scope, id)
        if (processor is None) == (partition_query is None):
            raise ValueError("FirehoseToParquet: give a processor (which returns each record's dt) or a "
                             "partition_query (JQ giving it), not both")
        if not MIN_BUFFER_MB <= buffer_mb <= MAX_BUFFER_MB:
            raise ValueError(f"FirehoseToParquet buffer_mb={buffer_mb!r}: allowed {MIN_BUFFER_MB} to "
                             f"{MAX_BUFFER_MB} (format conversion needs at least 64)")
        if not 0 <= buffer_interval.to_seconds() <= 900:
            raise ValueError("FirehoseToParquet buffer_interval: allowed 0 to 900 seconds")
        if not 1 <= processor_buffer_mb <= 3:
            raise ValueError(f"FirehoseToParquet processor_buffer_mb={processor_buffer_mb!r}: allowed 1 to 3")
        stack = Stack.of(self)
        # A fixed name lets the processor be granted PutRecordBatch on this stream (to
        # re-ingest what does not fit in its response) without a dependency cycle.
        self.delivery_stream_name = f"{stack.stack_name}-{id}"[:64]
        self.delivery_stream_arn = stack.format_arn(
            service="firehose", resource="deliverystream", resource_name=self.delivery_stream_name)

        self.log_group = encrypted_log_group(self, "Logs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        delivery_log = logs.LogStream(self, "DestinationDelivery", log_group=self.log_group,
                                      removal_policy=removal_policy)
        backup_log = logs.LogStream(self, "BackupDelivery", log_group=self.log_group,
                                    removal_policy=removal_policy)
        self.role = self._role(bucket, key, table, processor, source_stream)

        def logging(stream: logs.LogStream):
            return firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                enabled=True, log_group_name=self.log_group.log_group_name,
                log_stream_name=stream.log_stream_name)

        encryption = firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
            kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                awskms_key_arn=key.key_arn))
        if processor is not None:
            processors = [firehose.CfnDeliveryStream.ProcessorProperty(type="Lambda", parameters=[
                _param("LambdaArn", processor.function_arn),
                _param("NumberOfRetries", "3"),
                _param("BufferSizeInMBs", str(processor_buffer_mb)),
                _param("BufferIntervalInSeconds", "60")])]
        else:
            processors = [firehose.CfnDeliveryStream.ProcessorProperty(type="MetadataExtraction", parameters=[
                _param("MetadataExtractionQuery", f"{{dt: {partition_query}}}"),
                _param("JsonParsingEngine", "JQ-1.6")])]
        self.delivery_stream = firehose.CfnDeliveryStream(
            self, "DeliveryStream",
            delivery_stream_name=self.delivery_stream_name,
            delivery_stream_type="DirectPut" if source_stream is None else "KinesisStreamAsSource",
            kinesis_stream_source_configuration=None if source_stream is None else
            firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=source_stream.stream_arn, role_arn=self.role.role_arn),
            # A stream source is encrypted by the stream; Firehose's own SSE is for Direct PUT only.
            delivery_stream_encryption_configuration_input=None if source_stream is not None else
            firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="CUSTOMER_MANAGED_CMK", key_arn=key.key_arn),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn, role_arn=self.role.role_arn,
                prefix=f"{table_prefix}dt={EVENT_DATE if processor is not None else QUERY_DATE}/",
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True, retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(
                        duration_in_seconds=300)),
                error_output_prefix=f"errors/!{{firehose:error-output-type}}/dt={DATE}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    size_in_m_bs=buffer_mb, interval_in_seconds=int(buffer_interval.to_seconds())),
                compression_format="UNCOMPRESSED",  # Parquet compresses itself (Snappy below)
                encryption_configuration=encryption,
                cloud_watch_logging_options=logging(delivery_log),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True, processors=processors),
                data_format_conversion_configuration=firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
                        deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                            open_x_json_ser_de=firehose.CfnDeliveryStream.OpenXJsonSerDeProperty())),
                    output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
                        serializer=firehose.CfnDeliveryStream.SerializerProperty(
                            parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(compression="SNAPPY"))),
                    schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
                        catalog_id=stack.account, database_name=table.database_name,
                        table_name=table.name, region=stack.region, role_arn=self.role.role_arn,
                        version_id="LATEST")),
                s3_backup_mode="Enabled" if source_backup else "Disabled",
                s3_backup_configuration=None if not source_backup else
                firehose.CfnDeliveryStream.S3DestinationConfigurationProperty(
                    bucket_arn=bucket.bucket_arn, role_arn=self.role.role_arn,
                    prefix=f"raw/dt={DATE}/",
                    error_output_prefix=f"errors/raw-backup/dt={DATE}/",
                    compression_format="GZIP", encryption_configuration=encryption,
                    buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                        size_in_m_bs=buffer_mb, interval_in_seconds=int(buffer_interval.to_seconds())),
                    cloud_watch_logging_options=logging(backup_log)),
            ))
        if source_stream is not None:
            acknowledge(self.delivery_stream, "KDF1", "The delivery stream reads a Kinesis stream encrypted "
                        "with the data key; Firehose server-side encryption applies to Direct PUT only, and "
                        "the S3 output is encrypted with the same key")
        # Firehose checks its role's permissions on creation: the policy must exist first.
        self.delivery_stream.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        # The processor re-ingests what does not fit in its response: this construct's policy on
        # its role (the role's own policy stays the caller's). An imported processor whose role
        # is not known here needs `processor_statements` attached by the caller.
        self.processor_statements = [] if processor is None else [iam.PolicyStatement(
            actions=["firehose:PutRecordBatch"], resources=[self.delivery_stream_arn])]
        self.processor_policy = None if processor is None or processor.role is None else iam.Policy(
            self, "ProcessorReingest", roles=[processor.role], statements=self.processor_statements)
        self.alarms = self._alarms(processor, alarm_topic, buffer_interval)

    def _role(self, bucket: s3.IBucket, key: kms.IKey, table: PartitionedParquetTable,
              processor: lambda_.IFunction | None, source_stream: kinesis.IStream | None) -> iam.Role:
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
                        description="Firehose: invoke the processor, read the schema, write S3")
        role.add_to_policy(iam.PolicyStatement(
            actions=["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                     "s3:ListBucketMultipartUploads", "s3:PutObject"],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")]))
        role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                               resources=[key.key_arn]))
        role.add_to_policy(iam.PolicyStatement(
            actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            resources=[table.catalog_arn, table.database_arn, table.table_arn]))
        if source_stream is not None:
            role.add_to_policy(iam.PolicyStatement(
                actions=["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
                         "kinesis:GetRecords", "kinesis:ListShards"], resources=[source_stream.stream_arn]))
        if processor is not None:
            # Firehose may record the processor with a version qualifier ($LATEST).
            role.add_to_policy(iam.PolicyStatement(
                actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
                resources=[processor.function_arn, f"{processor.function_arn}:*"]))
            acknowledge_resource(role, f"{processor.function_arn}:*", "Versions of the one transform "
                                 "function: Firehose may invoke it with a version qualifier")
        self.log_group.grant_write(role)
        acknowledge(role, f"IAM5[Resource::<{logical_id(bucket)}.Arn>/*]",
                    "Firehose names its output objects by time and partition at delivery, so it "
                    "must be able to write any object key of this one delivery bucket")
        return role

    def _alarms(self, processor: lambda_.IFunction | None, topic: sns.ITopic | None,
                buffer_interval: Duration) -> list[cloudwatch.Alarm]:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/Firehose", metric_name=name, statistic=statistic,
                                     period=FIVE_MINUTES,
                                     dimensions_map={"DeliveryStreamName": self.delivery_stream_name})

        # Data older than three buffer intervals means delivery is stuck.
        stale_after = max(900, int(buffer_interval.to_seconds()) * 3)
        delivery = [
            alarm_when(self, "DeliveryStale", topic=topic, above=stale_after,
                       metric=metric("DeliveryToS3.DataFreshness", "Maximum"),
                       description="Records wait in Firehose longer than three buffer intervals"),
            alarm_when(self, "DeliveryFailing", topic=topic, below=1,
                       metric=metric("DeliveryToS3.Success", "Minimum"),
                       description="Firehose failed to deliver to S3"),
            alarm_when(self, "ConversionFailed", topic=topic, above=0,
                       metric=metric("FailedConversion.Records", "Sum"),
                       description="Records failed Parquet conversion; see errors/format-conversion-failed/"),
        ]
        if processor is None:
            return delivery
        return delivery + [
            alarm_when(self, "ProcessorFailing", topic=topic, below=1,
                       metric=metric("ExecuteProcessing.Success", "Minimum"),
                       description="Invoking the transform Lambda failed; records went to errors/"),
            alarm_when(self, "ProcessorErrors", topic=topic, above=0,
                       metric=processor.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                       description="The transform Lambda raised errors"),
        ]


def _param(name: str, value: str) -> firehose.CfnDeliveryStream.ProcessorParameterProperty:
    return firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=name, parameter_value=value)

