-- Generated from refarch/clickstream_schema.py: edit the schema, then run
-- `python -m refarch.clickstream_schema` (a test fails when this file is stale).
-- Every record with its fields and, when the job cannot use it, the reason (NULL when valid):
--   invalid_json       not a JSON object
--   missing:<field>    a required field absent (or not a scalar)
--   invalid:<field>    outside the API model's pattern, length or range
--   invalid:event_time matches the pattern but is no calendar time (2024-02-30...)
-- The same rules as the collection API's model, for records that reach the stream another
-- way (a server-side producer) and for what a pattern cannot check. Also flagged, not
-- rejected: is_bot (the user agent says so) and late (behind the watermark on arrival,
-- checked here, right after the watermark is assigned).
CREATE VIEW clicks_checked AS
SELECT
  payload,
  JSON_VALUE(payload, '$.event_id') AS event_id,
  JSON_VALUE(payload, '$.visitor_id') AS visitor_id,
  JSON_VALUE(payload, '$.session_hint') AS session_hint,
  JSON_VALUE(payload, '$.page') AS page,
  JSON_VALUE(payload, '$.referrer') AS referrer,
  JSON_VALUE(payload, '$.user_agent') AS user_agent,
  TRY_CAST(JSON_VALUE(payload, '$.status') AS INT) AS status,
  TRY_CAST(JSON_VALUE(payload, '$.load_time_ms') AS INT) AS load_time_ms,
  event_time AS parsed_time,
  event_rowtime AS event_time,
  arrival,
  COALESCE(REGEXP(JSON_VALUE(payload, '$.user_agent'), '(?i)(bot|crawler|spider|slurp|headless|python-requests|curl/)'), FALSE) AS is_bot,
  COALESCE(event_rowtime < CURRENT_WATERMARK(event_rowtime), FALSE) AS late,
  CASE
    WHEN payload IS NOT JSON OBJECT THEN 'invalid_json'
    WHEN JSON_VALUE(payload, '$.event_id') IS NULL THEN 'missing:event_id'
    WHEN JSON_VALUE(payload, '$.visitor_id') IS NULL THEN 'missing:visitor_id'
    WHEN JSON_VALUE(payload, '$.page') IS NULL THEN 'missing:page'
    WHEN JSON_VALUE(payload, '$.status') IS NULL THEN 'missing:status'
    WHEN JSON_VALUE(payload, '$.event_time') IS NULL THEN 'missing:event_time'
    WHEN JSON_VALUE(payload, '$.event_id') = '' OR CHAR_LENGTH(JSON_VALUE(payload, '$.event_id')) > 64 OR NOT REGEXP(JSON_VALUE(payload, '$.event_id'), '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$') THEN 'invalid:event_id'
    WHEN JSON_VALUE(payload, '$.visitor_id') = '' OR CHAR_LENGTH(JSON_VALUE(payload, '$.visitor_id')) > 64 OR NOT REGEXP(JSON_VALUE(payload, '$.visitor_id'), '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$') THEN 'invalid:visitor_id'
    WHEN CHAR_LENGTH(JSON_VALUE(payload, '$.session_hint')) > 64 OR NOT REGEXP(JSON_VALUE(payload, '$.session_hint'), '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$') THEN 'invalid:session_hint'
    WHEN JSON_VALUE(payload, '$.page') = '' OR CHAR_LENGTH(JSON_VALUE(payload, '$.page')) > 2048 OR NOT REGEXP(JSON_VALUE(payload, '$.page'), '^/[!-~]{0,2047}$') THEN 'invalid:page'
    WHEN CHAR_LENGTH(JSON_VALUE(payload, '$.referrer')) > 2048 THEN 'invalid:referrer'
    WHEN CHAR_LENGTH(JSON_VALUE(payload, '$.user_agent')) > 512 THEN 'invalid:user_agent'
    WHEN JSON_VALUE(payload, '$.status') IS NOT NULL AND (NOT REGEXP(JSON_VALUE(payload, '$.status'), '^-?[0-9]{1,10}$') OR TRY_CAST(JSON_VALUE(payload, '$.status') AS INT) IS NULL OR TRY_CAST(JSON_VALUE(payload, '$.status') AS INT) NOT BETWEEN 100 AND 599) THEN 'invalid:status'
    WHEN JSON_VALUE(payload, '$.load_time_ms') IS NOT NULL AND (NOT REGEXP(JSON_VALUE(payload, '$.load_time_ms'), '^-?[0-9]{1,10}$') OR TRY_CAST(JSON_VALUE(payload, '$.load_time_ms') AS INT) IS NULL OR TRY_CAST(JSON_VALUE(payload, '$.load_time_ms') AS INT) NOT BETWEEN 0 AND 600000) THEN 'invalid:load_time_ms'
    WHEN JSON_VALUE(payload, '$.event_time') = '' OR CHAR_LENGTH(JSON_VALUE(payload, '$.event_time')) > 24 OR NOT REGEXP(JSON_VALUE(payload, '$.event_time'), '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,3})?Z$') THEN 'invalid:event_time'
    WHEN event_time IS NULL THEN 'invalid:event_time'
  END AS reason
FROM click_records
