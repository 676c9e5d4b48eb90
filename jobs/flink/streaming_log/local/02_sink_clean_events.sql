-- Generated from refarch/clickstream_schema.py: edit the schema, then run
-- `python -m refarch.clickstream_schema` (a test fails when this file is stale).
-- Sink: every valid event once, typed, with the job's flags, to JSON-lines files under ${OUTPUT_PATH}/clean_events (the local twin of cloud/).
-- Timestamps in SQL form, UTC: what Firehose's Parquet conversion, the index mapping and
-- Redshift's casts read.
CREATE TABLE clean_events (
  event_id STRING,
  visitor_id STRING,
  session_hint STRING,
  page STRING,
  referrer STRING,
  user_agent STRING,
  status INT,
  load_time_ms INT,
  event_time TIMESTAMP(3),
  is_bot BOOLEAN,
  late BOOLEAN
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/clean_events',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
