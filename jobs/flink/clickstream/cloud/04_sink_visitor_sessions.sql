-- Sink: one row per visitor session (30-minute inactivity gap), to a Kinesis data stream.
CREATE TABLE visitor_sessions (
  visitor_id STRING,
  session_start TIMESTAMP(3),
  session_end TIMESTAMP(3),
  page_views BIGINT
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_SESSIONS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
