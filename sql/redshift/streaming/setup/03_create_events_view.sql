-- The clean events as Redshift ingests them from the stream, refreshed automatically: the record as
-- SUPER (payload) and each field of the event typed (the Flink job writes every field, JSON null when
-- absent; NULLIF turns an empty extraction into NULL rather than a failed cast). Kinesis's own columns
-- say where each row came from. Rows that are not JSON are skipped (the job writes only JSON).
CREATE MATERIALIZED VIEW clickstream.events
AUTO REFRESH YES
AS
SELECT
  approximate_arrival_timestamp,
  partition_key,
  shard_id,
  sequence_number,
  JSON_PARSE(kinesis_data) AS payload,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'event_id', TRUE), '') AS VARCHAR(64)) AS event_id,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'visitor_id', TRUE), '') AS VARCHAR(64)) AS visitor_id,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'session_hint', TRUE), '') AS VARCHAR(64)) AS session_hint,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'page', TRUE), '') AS VARCHAR(2048)) AS page,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'referrer', TRUE), '') AS VARCHAR(8192)) AS referrer,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'user_agent', TRUE), '') AS VARCHAR(2048)) AS user_agent,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'status', TRUE), '') AS INTEGER) AS status,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'load_time_ms', TRUE), '') AS INTEGER) AS load_time_ms,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'event_time', TRUE), '') AS TIMESTAMP) AS event_time,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'is_bot', TRUE), '') AS BOOLEAN) AS is_bot,
  CAST(NULLIF(JSON_EXTRACT_PATH_TEXT(FROM_VARBYTE(kinesis_data, 'utf-8'), 'late', TRUE), '') AS BOOLEAN) AS late
FROM clickstream_kinesis."${STREAM_NAME}"
WHERE CAN_JSON_PARSE(kinesis_data);
