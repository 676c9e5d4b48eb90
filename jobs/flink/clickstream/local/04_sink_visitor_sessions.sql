-- Local twin of cloud/04_sink_visitor_sessions.sql: JSON-lines files under ${OUTPUT_PATH}/visitor_sessions.
CREATE TABLE visitor_sessions (
  visitor_id STRING,
  session_start TIMESTAMP(3),
  session_end TIMESTAMP(3),
  page_views BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/visitor_sessions',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
