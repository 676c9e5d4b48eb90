-- Sliding window (was: KDA SQL sliding window, RANGE INTERVAL '5' MINUTE PRECEDING):
-- the share of 5xx responses over the last 5 minutes, emitted every minute (HOP: slide
-- 1 minute, size 5 minutes), so every record counts in 5 consecutive windows.
-- error_rate = 5xx responses / all responses in the window (never divides by zero: a
-- window exists only when it holds at least one record). One global group: the rate is
-- for the whole site, so this aggregation runs on one task however wide the job is.
INSERT INTO error_rate_5m
SELECT
  window_start,
  window_end,
  COUNT(*) FILTER (WHERE status BETWEEN 500 AND 599) AS error_count,
  COUNT(*) AS request_count,
  CAST(COUNT(*) FILTER (WHERE status BETWEEN 500 AND 599) AS DOUBLE) / COUNT(*) AS error_rate
FROM TABLE(
  HOP(TABLE clicks, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
GROUP BY window_start, window_end
