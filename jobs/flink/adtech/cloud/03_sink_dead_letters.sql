-- Sink: every record the job cannot use, whole, with the reason (see views/01), to the
-- dead-letter Kinesis data stream (kept 7 days, with an alarm on arrivals).
CREATE TABLE ad_dead_letters (
  reason STRING,
  payload STRING,
  event_time TIMESTAMP(3)
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_DEADLETTERS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
