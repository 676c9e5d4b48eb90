-- Tumbling window (was: KDA SQL tumbling window with STEP/FLOOR over ROWTIME):
-- page views per page per minute, on event time. A window [t, t + 1 min) is emitted once
-- the watermark (newest event time - 10 s) passes its end; records arriving out of order
-- within that bound are still counted in their own minute.
INSERT INTO page_views_per_minute
SELECT window_start, window_end, page, COUNT(*) AS page_views
FROM TABLE(
  TUMBLE(TABLE clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, page
