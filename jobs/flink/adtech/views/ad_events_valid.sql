-- The records the windows can place in time and count: a parsable event_time (others get
-- the rowtime 1970-01-01 at the source so the watermark generator does not fail the job)
-- and a known event_type. Renames the rowtime back to event_time and keeps it as the time
-- attribute, with the source's watermark.
CREATE VIEW ad_events_valid AS
SELECT campaign_id, placement_id, event_type, event_rowtime AS event_time
FROM ad_events
WHERE event_time IS NOT NULL AND event_type IN ('impression', 'click')
