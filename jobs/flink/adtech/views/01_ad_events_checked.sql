-- Every record with its fields and, when the job cannot use it, the reason (NULL when valid):
--   invalid_json            not a JSON object
--   missing:<field>         event_type, impression_id, placement_id, ad_id or event_time absent
--   invalid:event_type      neither impression nor click
--   invalid:<id field>      an id that is not 1-128 of A-Z a-z 0-9 . _ : - (the placement API's rule)
--   invalid:event_time      not ISO-8601 UTC with a trailing Z
--   late                    at least the attribution window behind the watermark when it arrives
-- Late: the attribution join holds its output back by the attribution window, so a record
-- less far behind still lands in every window it belongs to; one further behind would be
-- dropped by the windows silently, so it is a dead letter instead. Checked here, right after
-- the watermark is assigned, against the watermark that preceded the record.
CREATE VIEW ad_events_checked AS
SELECT
  payload,
  JSON_VALUE(payload, '$.event_type') AS event_type,
  JSON_VALUE(payload, '$.impression_id') AS impression_id,
  JSON_VALUE(payload, '$.placement_id') AS placement_id,
  JSON_VALUE(payload, '$.ad_id') AS ad_id,
  event_time AS parsed_time,
  event_rowtime AS event_time,
  arrival,
  CASE
    WHEN payload IS NOT JSON OBJECT THEN 'invalid_json'
    WHEN JSON_VALUE(payload, '$.event_type') IS NULL THEN 'missing:event_type'
    WHEN JSON_VALUE(payload, '$.event_type') NOT IN ('impression', 'click') THEN 'invalid:event_type'
    WHEN JSON_VALUE(payload, '$.impression_id') IS NULL THEN 'missing:impression_id'
    WHEN JSON_VALUE(payload, '$.placement_id') IS NULL THEN 'missing:placement_id'
    WHEN JSON_VALUE(payload, '$.ad_id') IS NULL THEN 'missing:ad_id'
    WHEN JSON_VALUE(payload, '$.event_time') IS NULL THEN 'missing:event_time'
    WHEN NOT REGEXP(JSON_VALUE(payload, '$.impression_id'), '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$') THEN 'invalid:impression_id'
    WHEN NOT REGEXP(JSON_VALUE(payload, '$.placement_id'), '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$') THEN 'invalid:placement_id'
    WHEN NOT REGEXP(JSON_VALUE(payload, '$.ad_id'), '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$') THEN 'invalid:ad_id'
    WHEN event_time IS NULL THEN 'invalid:event_time'
    WHEN event_rowtime <= CURRENT_WATERMARK(event_rowtime) - INTERVAL '${ATTRIBUTION_MINUTES}' MINUTE THEN 'late'
  END AS reason
FROM ad_events
