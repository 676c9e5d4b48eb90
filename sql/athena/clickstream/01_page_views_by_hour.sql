-- Page views and distinct visitors per hour, people only (bots are flagged and left out).
SELECT date_trunc('hour', event_time) AS hour,
       count(*) AS page_views,
       count(DISTINCT visitor_id) AS visitors
FROM clickstream_events
WHERE NOT is_bot
GROUP BY date_trunc('hour', event_time)
ORDER BY hour
