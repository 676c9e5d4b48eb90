-- Sliding windows (HOP: slide 1 minute, size 5 minutes) on event time, per placement and ad:
-- impressions, clicks credited to those ads (attributed), unattributed clicks, and
-- ctr = attributed clicks / impressions; NULL when the window holds no impression of the ad
-- (its clicks came after impressions of an earlier window), never a division by zero.
INSERT INTO placement_ctr
SELECT
  window_start,
  window_end,
  placement_id,
  ad_id,
  COUNT(*) FILTER (WHERE activity = 'impression') AS impressions,
  COUNT(*) FILTER (WHERE activity = 'click') AS clicks,
  COUNT(*) FILTER (WHERE activity = 'unattributed_click') AS unattributed_clicks,
  CAST(COUNT(*) FILTER (WHERE activity = 'click') AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE activity = 'impression'), 0) AS ctr
FROM TABLE(
  HOP(TABLE ad_activity, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
GROUP BY window_start, window_end, placement_id, ad_id
