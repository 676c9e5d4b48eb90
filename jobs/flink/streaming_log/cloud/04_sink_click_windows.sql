-- Sink: the window results, one row per window, to the windows Kinesis stream (its Firehose
-- stream writes them to the lake as Parquet). One table for the three kinds of window, so one
-- stream, one delivery and one Glue table; the columns a kind has no use for are NULL:
--   page_views_1m    page, page_views                         (tumbling, 1 minute)
--   error_rate_5m    error_count, request_count, error_rate   (sliding, 5 minutes every minute)
--   visitor_session  visitor_id, page_views                   (session, 30 minutes of inactivity)
CREATE TABLE click_windows (
  window_kind STRING,
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  page STRING,
  visitor_id STRING,
  page_views BIGINT,
  error_count BIGINT,
  request_count BIGINT,
  error_rate DOUBLE
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SINK_WINDOWS_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
