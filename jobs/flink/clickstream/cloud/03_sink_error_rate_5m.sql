-- Sink: share of 5xx responses over the last 5 minutes, every minute, to a Kinesis data stream.
CREATE TABLE error_rate_5m (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  error_count BIGINT,
  request_count BIGINT,
  error_rate DOUBLE
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_ERRORRATE_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
