-- Local twin of cloud/05_sink_server_error_alerts.sql: JSON-lines files under ${OUTPUT_PATH}/server_error_alerts.
CREATE TABLE server_error_alerts (
  event_id STRING,
  visitor_id STRING,
  page STRING,
  status INT,
  event_time TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/server_error_alerts',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
