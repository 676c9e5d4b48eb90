-- Local twin of cloud/03_sink_error_rate_5m.sql: JSON-lines files under ${OUTPUT_PATH}/error_rate_5m.
CREATE TABLE error_rate_5m (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  error_count BIGINT,
  request_count BIGINT,
  error_rate DOUBLE
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/error_rate_5m',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
