-- Valid events, each event id once: the first copy to arrive. Trackers re-send a batch they
-- got no answer for, and Kinesis delivers at least once, so copies are normal. Keeping the
-- first by arrival keeps the stream append-only (windows and sinks need no retractions);
-- copies are identical, so which one is kept does not matter. An id is remembered for the
-- de-duplication interval (property state.ttl, set by main.py), so a copy arriving later than
-- that counts again: the bound that keeps the state from growing with every event ever seen.
CREATE VIEW unique_clicks AS
SELECT event_id, visitor_id, session_hint, page, referrer, user_agent, status, load_time_ms,
  event_time, is_bot, late
FROM (
  SELECT event_id, visitor_id, session_hint, page, referrer, user_agent, status, load_time_ms,
    event_time, is_bot, late,
    ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY arrival ASC) AS copy
  FROM clicks_checked
  WHERE reason IS NULL)
WHERE copy = 1
