-- Sink: page views per page per minute, to a Kinesis data stream (JSON, times in UTC).
CREATE TABLE page_views_per_minute (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  page STRING,
  page_views BIGINT
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_PAGEVIEWS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
