-- Source: the clickstream Kinesis data stream (connector flink-sql-connector-kinesis 5.x).
-- Producers write one JSON object per record:
--   {"visitor_id": "v-001", "page": "/home", "status": 200, "event_time": "2024-05-01T10:00:05.123Z"}
-- event_time is ISO-8601 in UTC with a trailing Z; anything else is a malformed record.
--
-- Watermark bound, 10 seconds: a record may arrive up to 10 s behind the newest event
-- time its reader has seen (KPL buffering, PutRecords retries with back-off, clock skew
-- between web servers, shards interleaved by one reader) and is still counted in its
-- window. Windows close 10 s after their end; a record further behind than that misses
-- windows that have already closed (it still reaches the 5xx alert filter). The same bound
-- is in local/01_source_clickstream_events.sql.
--
-- Malformed JSON is skipped ('json.ignore-parse-errors') instead of failing the job and
-- restart-looping on one bad record; a record whose event_time does not parse gets a NULL
-- event_time and is filtered out by the view `clicks` (views/clicks.sql).
CREATE TABLE clickstream_events (
  visitor_id STRING,
  page STRING,
  status INT,
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
