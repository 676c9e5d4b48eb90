-- Local twin of cloud/03_sink_dead_letters.sql: JSON-lines files under ${OUTPUT_PATH}/dead_letters.
CREATE TABLE dead_letters (
  reason STRING,
  payload STRING,
  event_time TIMESTAMP(3),
  received_at TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/dead_letters',
  'format' = 'json',
  'json.timestamp-format.standard' = 'SQL'
)
