-- Attribution: an interval join gives each click the impression it names, if that impression
-- happened no more than the attribution window (property attribution.minutes) before the
-- click. The click is then credited to the impression's placement and ad; a click whose
-- impression is unknown, later than the click, or older than the window is unattributed and
-- keeps the placement and ad it claims, so it is counted but never credited.
-- Flink holds the join's output watermark back by the attribution window (an impression can
-- be matched until then), so the windows downstream close that much after their end.
CREATE VIEW attributed_clicks AS
SELECT
  COALESCE(i.placement_id, c.placement_id) AS placement_id,
  COALESCE(i.ad_id, c.ad_id) AS ad_id,
  i.impression_id IS NOT NULL AS attributed,
  c.event_time
FROM clicks AS c
LEFT JOIN impressions AS i
  ON c.impression_id = i.impression_id
  AND i.event_time BETWEEN c.event_time - INTERVAL '${ATTRIBUTION_MINUTES}' MINUTE AND c.event_time
