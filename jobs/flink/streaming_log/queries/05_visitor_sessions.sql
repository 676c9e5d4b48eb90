-- Session windows per visitor, closed after 30 minutes without a page view from that visitor
-- (Flink's SESSION window TVF, streaming since 1.19; the equivalent of KDA SQL's stagger
-- windows, which opened per key). A late record still joins its visitor's session while that
-- session is open; one behind a session already emitted is dropped by the window.
-- session end = last page view + 30 minutes (Flink's session window end).
INSERT INTO click_windows
SELECT 'visitor_session' AS window_kind, window_start, window_end, CAST(NULL AS STRING) AS page,
  visitor_id, COUNT(*) AS page_views, CAST(NULL AS BIGINT) AS error_count,
  CAST(NULL AS BIGINT) AS request_count, CAST(NULL AS DOUBLE) AS error_rate
FROM TABLE(
  SESSION(TABLE human_clicks PARTITION BY visitor_id, DESCRIPTOR(event_time), INTERVAL '30' MINUTE))
GROUP BY visitor_id, window_start, window_end
