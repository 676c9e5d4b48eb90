-- Sink: every record the job cannot use, whole, with the reason (views/01_clicks_checked.sql),
-- to the dead-letter Kinesis stream; its Firehose stream keeps them in the lake, by the date
-- they were received (received_at: when the job read them; their own event_time may be unusable).
CREATE TABLE dead_letters (
  reason STRING,
  payload STRING,
  event_time TIMESTAMP(3),
  received_at TIMESTAMP(3)
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_DEADLETTERS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
