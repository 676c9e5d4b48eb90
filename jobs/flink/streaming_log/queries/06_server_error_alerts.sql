-- Continuous filter (was: KDA SQL pump with a WHERE clause): every unique 5xx page view, bots
-- included (their errors are the site's too), forwarded as soon as it is read. No window, so
-- no watermark applies: a late record still raises its alert.
INSERT INTO server_error_alerts
SELECT event_id, visitor_id, page, status, CAST(event_time AS TIMESTAMP(3)) AS event_time
FROM unique_clicks
WHERE status BETWEEN 500 AND 599
