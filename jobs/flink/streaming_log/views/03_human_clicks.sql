-- What the metrics count: unique events from people (bots are kept in the lake and the index,
-- flagged, but would skew page views and sessions). event_time stays the time attribute.
CREATE VIEW human_clicks AS
SELECT visitor_id, page, status, event_time
FROM unique_clicks
WHERE NOT is_bot
