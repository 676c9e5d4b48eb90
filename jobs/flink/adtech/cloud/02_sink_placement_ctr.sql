-- Sink: impressions, attributed clicks, unattributed clicks and click-through rate per
-- placement and ad over the last 5 minutes, every minute, to the Kinesis data stream the
-- placement updater reads. Keyed by placement (PARTITIONED BY), so one placement's windows
-- reach one shard, and so one updater invocation at a time, in the order they were written.
CREATE TABLE placement_ctr (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  placement_id STRING,
  ad_id STRING,
  impressions BIGINT,
  clicks BIGINT,
  unattributed_clicks BIGINT,
  ctr DOUBLE
) PARTITIONED BY (placement_id) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_CTR_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
