-- Local twin of cloud/02_sink_page_views_per_minute.sql: JSON-lines files under ${OUTPUT_PATH}/page_views_per_minute.
CREATE TABLE page_views_per_minute (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  page STRING,
  page_views BIGINT
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/page_views_per_minute',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
