-- Every valid event once, typed and flagged, for the lake, the search index and the warehouse.
-- event_time is cast to a plain timestamp: a sink column cannot be a time attribute.
INSERT INTO clean_events
SELECT event_id, visitor_id, session_hint, page, referrer, user_agent, status, load_time_ms,
  CAST(event_time AS TIMESTAMP(3)) AS event_time, is_bot, late
FROM unique_clicks
