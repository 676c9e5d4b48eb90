-- Source: ad-server events from a Kinesis data stream (connector flink-sql-connector-kinesis 5.x),
-- read as raw text so that a record the job cannot parse still reaches the dead letters whole.
-- Ad servers write one JSON object per impression or click:
--   {"event_type": "impression", "impression_id": "imp-81f2", "placement_id": "home-top",
--    "ad_id": "ad-b", "event_time": "2024-05-01T12:00:10.250Z"}
--   {"event_type": "click", "impression_id": "imp-81f2", "placement_id": "home-top",
--    "ad_id": "ad-b", "event_time": "2024-05-01T12:00:14.900Z"}
-- A click names the impression it came from (the ad server puts the impression id in the
-- click URL); event_time is ISO-8601 in UTC with a trailing Z (milliseconds optional).
--
-- Watermark bound, 10 seconds: producer buffering and retries, clock skew between ad
-- servers and shards interleaved by one reader put records up to ~10 s out of order. The
-- idle-source timeout (property source.idle.timeout, set by main.py) keeps an idle shard
-- from holding every window back.
CREATE TABLE ad_events (
  payload STRING,
  -- NULL unless event_time is ISO-8601 UTC with a trailing Z (the view names the reason).
  event_time AS CASE
    WHEN REGEXP(JSON_VALUE(payload, '$.event_time'), '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,3})?Z$')
    THEN TO_TIMESTAMP(REPLACE(REPLACE(JSON_VALUE(payload, '$.event_time'), 'T', ' '), 'Z', '')) END,
  -- The time attribute: the watermark generator fails the whole job on a NULL rowtime, so a
  -- record without a usable event_time gets 1970-01-01, which never moves the watermark.
  event_rowtime AS COALESCE(CASE
    WHEN REGEXP(JSON_VALUE(payload, '$.event_time'), '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,3})?Z$')
    THEN TO_TIMESTAMP(REPLACE(REPLACE(JSON_VALUE(payload, '$.event_time'), 'T', ' '), 'Z', '')) END,
    TIMESTAMP '1970-01-01 00:00:00'),
  -- Arrival order: de-duplication keeps the first copy to arrive.
  arrival AS PROCTIME(),
  WATERMARK FOR event_rowtime AS event_rowtime - INTERVAL '10' SECOND
) WITH (
  'connector' = 'kinesis',
  'stream.arn' = '${SOURCE_STREAM_ARN}',
  'aws.region' = '${AWS_REGION}',
  'source.init.position' = '${SOURCE_INIT_POSITION:-LATEST}',
  'format' = 'raw'
)
