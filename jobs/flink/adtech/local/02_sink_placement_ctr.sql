-- Local twin of cloud/02_sink_placement_ctr.sql: JSON-lines files under ${OUTPUT_PATH}/placement_ctr.
-- (Not PARTITIONED BY here: for the filesystem connector that would mean one directory per
-- placement, and drop the column from the files.)
CREATE TABLE placement_ctr (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  placement_id STRING,
  ad_id STRING,
  impressions BIGINT,
  clicks BIGINT,
  unattributed_clicks BIGINT,
  ctr DOUBLE
) WITH (
  'connector' = 'filesystem',
  'path' = '${OUTPUT_PATH}/placement_ctr',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
)
