-- Sink: every 5xx record as it arrives (continuous filter), to a Kinesis data stream.
CREATE TABLE server_error_alerts (
  visitor_id STRING,
  page STRING,
  status INT,
  event_time TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_ALERTS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
