-- Valid impressions, each impression id once: the first copy to arrive (producers retry, and
-- Kinesis delivers at least once). Keeping the first by arrival keeps the stream append-only,
-- which the attribution join needs; copies are identical, so which one is kept does not
-- matter. The ids are kept for the state TTL (property state.ttl, set by main.py).
CREATE VIEW impressions AS
SELECT impression_id, placement_id, ad_id, event_time
FROM (
  SELECT impression_id, placement_id, ad_id, event_time,
    ROW_NUMBER() OVER (PARTITION BY impression_id ORDER BY arrival ASC) AS copy
  FROM ad_events_checked
  WHERE reason IS NULL AND event_type = 'impression')
WHERE copy = 1
