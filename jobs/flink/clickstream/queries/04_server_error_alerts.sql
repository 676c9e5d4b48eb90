-- Continuous filter (was: KDA SQL pump with a WHERE clause): every 5xx record is forwarded
-- to the alerts sink as soon as it is read. No window, so no watermark applies: a record
-- that is too late for the windows still raises its alert.
INSERT INTO server_error_alerts
SELECT visitor_id, page, status, event_time
FROM clickstream_events
WHERE status BETWEEN 500 AND 599
