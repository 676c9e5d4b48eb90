-- Sink: impressions, clicks and click-through rate per campaign and placement over the last
-- 5 minutes, every minute, to the Kinesis data stream the placement updater reads.
-- Records are keyed by campaign and placement (PARTITIONED BY), so one placement's
-- windows stay in order on one shard.
CREATE TABLE ctr_5m (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  campaign_id STRING,
  placement_id STRING,
  impressions BIGINT,
  clicks BIGINT,
  ctr DOUBLE
) PARTITIONED BY (campaign_id, placement_id) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_CTR_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
