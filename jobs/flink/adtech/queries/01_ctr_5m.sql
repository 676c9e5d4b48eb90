-- Sliding window (HOP: slide 1 minute, size 5 minutes): impressions, clicks and
-- click-through rate per campaign and placement, emitted every minute on event time.
-- ctr = clicks / impressions; NULL when the window holds clicks but no impressions
-- (the impressions fell in an earlier window), never a division by zero.
INSERT INTO ctr_5m
SELECT
  window_start,
  window_end,
  campaign_id,
  placement_id,
  COUNT(*) FILTER (WHERE event_type = 'impression') AS impressions,
  COUNT(*) FILTER (WHERE event_type = 'click') AS clicks,
  CAST(COUNT(*) FILTER (WHERE event_type = 'click') AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE event_type = 'impression'), 0) AS ctr
FROM TABLE(
  HOP(TABLE ad_events_valid, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
GROUP BY window_start, window_end, campaign_id, placement_id
