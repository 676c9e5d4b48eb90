-- Per event date: all clean events, those that arrived behind the watermark (too late for closed windows), and bots.
SELECT dt, count(*) AS events,
       count_if(late) AS late_events,
       count_if(is_bot) AS bot_events
FROM clickstream_events
GROUP BY dt
ORDER BY dt
