-- Local twin of cloud/02_sink_ctr_5m.sql: JSON-lines files under ${OUTPUT_PATH}/ctr_5m.
-- (Not PARTITIONED BY here: for the filesystem connector that would mean one directory per
-- campaign and placement, and drop those columns from the files.)
CREATE TABLE ctr_5m (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  campaign_id STRING,
  placement_id STRING,
  impressions BIGINT,
  clicks BIGINT,
  ctr DOUBLE
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/ctr_5m',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
