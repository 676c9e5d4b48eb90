-- Local twin of cloud/04_sink_click_windows.sql: JSON-lines files under ${OUTPUT_PATH}/click_windows.
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
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/click_windows',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
