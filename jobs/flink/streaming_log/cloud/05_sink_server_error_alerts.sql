-- Sink: every 5xx page view as it arrives (continuous filter), to the alerts Kinesis stream.
CREATE TABLE server_error_alerts (
  event_id STRING,
  visitor_id STRING,
  page STRING,
  status INT,
  event_time TIMESTAMP(3)
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_ALERTS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
