-- Generated from refarch/clickstream_schema.py: edit the schema, then run
-- `python -m refarch.clickstream_schema` (a test fails when this file is stale).
-- Source: the events stream (one JSON event per Kinesis record, as the collection API puts them), read as raw text so that a record the job cannot parse still
-- reaches the dead letters whole. Watermark bound 10 s (producer buffering, retries, clock
-- skew); the idle-source timeout (property source.idle.timeout, set by main.py) keeps a
-- quiet shard from holding every window back.
CREATE TABLE click_records (
  payload STRING,
  -- NULL unless event_time is ISO-8601 UTC with a trailing Z and a real calendar time.
  event_time AS CASE WHEN REGEXP(JSON_VALUE(payload, '$.event_time'), '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,3})?Z$')
    AND DATE_FORMAT(TO_TIMESTAMP(REPLACE(REPLACE(JSON_VALUE(payload, '$.event_time'), 'T', ' '), 'Z', '')), 'yyyy-MM-dd''T''HH:mm:ss') = SUBSTRING(JSON_VALUE(payload, '$.event_time'), 1, 19)
    THEN TO_TIMESTAMP(REPLACE(REPLACE(JSON_VALUE(payload, '$.event_time'), 'T', ' '), 'Z', '')) END,
  -- The time attribute: the watermark generator fails the job on a NULL rowtime, so a record
  -- without a usable event_time gets 1970-01-01, which never moves the watermark.
  event_rowtime AS COALESCE(CASE WHEN REGEXP(JSON_VALUE(payload, '$.event_time'), '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,3})?Z$')
    AND DATE_FORMAT(TO_TIMESTAMP(REPLACE(REPLACE(JSON_VALUE(payload, '$.event_time'), 'T', ' '), 'Z', '')), 'yyyy-MM-dd''T''HH:mm:ss') = SUBSTRING(JSON_VALUE(payload, '$.event_time'), 1, 19)
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
