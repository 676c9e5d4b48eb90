-- Five-minute windows where more than 5% of page views were server errors (5xx).
SELECT window_start, window_end, error_count, request_count, round(error_rate, 4) AS error_rate
FROM clickstream_windows
WHERE window_kind = 'error_rate_5m' AND error_rate > 0.05
ORDER BY error_rate DESC, window_start
