-- Tumbling window (was: KDA SQL tumbling window with STEP/FLOOR over ROWTIME): page views per
-- page per minute, on event time. A window [t, t + 1 min) is emitted once the watermark
-- (newest event time - 10 s) passes its end; records out of order within that bound are still
-- counted in their own minute, and a record behind the watermark (flagged late) finds its
-- minute closed.
INSERT INTO click_windows
SELECT 'page_views_1m' AS window_kind, window_start, window_end, page, CAST(NULL AS STRING) AS visitor_id,
  COUNT(*) AS page_views, CAST(NULL AS BIGINT) AS error_count, CAST(NULL AS BIGINT) AS request_count,
  CAST(NULL AS DOUBLE) AS error_rate
FROM TABLE(
  TUMBLE(TABLE human_clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, page
