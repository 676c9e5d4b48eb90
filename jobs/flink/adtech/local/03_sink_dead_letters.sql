-- Local twin of cloud/03_sink_dead_letters.sql: JSON-lines files under ${OUTPUT_PATH}/ad_dead_letters.
CREATE TABLE ad_dead_letters (
  reason STRING,
  payload STRING,
  event_time TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/ad_dead_letters',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
