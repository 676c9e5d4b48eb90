-- Page views and visitors per minute from the streaming view, people only, over the last day ingested.
SELECT DATE_TRUNC('minute', event_time) AS minute,
       COUNT(*) AS page_views,
       COUNT(DISTINCT visitor_id) AS visitors
FROM clickstream.events
WHERE NOT is_bot
GROUP BY DATE_TRUNC('minute', event_time)
ORDER BY minute;
