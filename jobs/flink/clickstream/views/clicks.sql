-- The records the windows can place in time: those whose event_time parsed. A missing or
-- unparsable event_time is read as NULL ('json.ignore-parse-errors'); the source gives
-- such a record the rowtime 1970-01-01 so the watermark generator does not fail the job,
-- and it stops here. The view renames the rowtime back to event_time and keeps it as the
-- time attribute, with the source's watermark.
CREATE VIEW clicks AS
SELECT visitor_id, page, status, event_rowtime AS event_time
FROM clickstream_events
WHERE event_time IS NOT NULL
