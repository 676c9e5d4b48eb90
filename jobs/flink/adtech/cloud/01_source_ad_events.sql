-- Source: ad-server events from a Kinesis data stream (connector flink-sql-connector-kinesis 5.x).
-- Ad servers write one JSON object per impression or click:
--   {"campaign_id": "c-1", "placement_id": "p-2", "event_type": "impression", "event_time": "2024-05-01T12:00:10.250Z"}
-- event_time is ISO-8601 in UTC with a trailing Z; event_type is impression or click.
--
-- Watermark bound, 10 seconds: the same reasoning as the clickstream source (producer
-- buffering and retries, clock skew between ad servers, shards interleaved by one reader).
-- A click or impression up to 10 s behind the newest event time is counted in all its
-- windows; one further behind misses the windows that have already been emitted.
-- Malformed JSON is skipped ('json.ignore-parse-errors'); records with an unparsable
-- event_time or an unknown event_type stop at the view `ad_events_valid`.
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
  'connector' = 'kinesis',
  'stream.arn' = '${SOURCE_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'source.init.position' = '${SOURCE_INIT_POSITION:-LATEST}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601',
  'json.ignore-parse-errors' = 'true'
)
