-- Sliding window (was: KDA SQL sliding window, RANGE INTERVAL '5' MINUTE PRECEDING): the share
-- of 5xx responses over the last 5 minutes, emitted every minute (HOP: slide 1 minute, size 5
-- minutes), so every record counts in 5 consecutive windows. error_rate = 5xx / all responses
-- in the window (a window exists only when it holds a record, so never a division by zero).
-- One global group: the rate is for the whole site, so it runs on one task however wide the job.
INSERT INTO click_windows
SELECT 'error_rate_5m' AS window_kind, window_start, window_end, CAST(NULL AS STRING) AS page,
  CAST(NULL AS STRING) AS visitor_id, CAST(NULL AS BIGINT) AS page_views,
  COUNT(*) FILTER (WHERE status BETWEEN 500 AND 599) AS error_count,
  COUNT(*) AS request_count,
  CAST(COUNT(*) FILTER (WHERE status BETWEEN 500 AND 599) AS DOUBLE) / COUNT(*) AS error_rate
FROM TABLE(
  HOP(TABLE human_clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
GROUP BY window_start, window_end
