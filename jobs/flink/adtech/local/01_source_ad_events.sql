-- Local twin of cloud/01_source_ad_events.sql: the same columns and watermark (10 s bound),
-- read line by line (one event per line) from files under ${SOURCE_PATH} instead of Kinesis.
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
  'connector' = 'filesystem',
  'path' = '${SOURCE_PATH}',
  'format' = 'raw'
)
