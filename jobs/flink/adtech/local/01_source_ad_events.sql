-- Local twin of cloud/01_source_ad_events.sql: the same columns and watermark (10 s bound),
-- read from JSON-lines files under ${SOURCE_PATH} instead of Kinesis.
CREATE TABLE ad_events (
  campaign_id STRING,
  placement_id STRING,
  event_type STRING,
  event_time TIMESTAMP_LTZ(3),
  -- The time attribute. The watermark generator fails the whole job on a NULL rowtime, so
  -- a missing or unparsable event_time becomes 1970-01-01: far behind any watermark, it
  -- never moves it, and the view drops the record before any window sees it.
  event_rowtime AS COALESCE(event_time, TO_TIMESTAMP_LTZ(0, 3)),
  WATERMARK FOR event_rowtime AS event_rowtime - INTERVAL '10' SECOND
) WITH (
  'connector' = 'filesystem',
  'path' = '${SOURCE_PATH}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601',
  'json.ignore-parse-errors' = 'true'
)
