-- Visitor sessions per day: how many, page views per session, and minutes from first to last view.
SELECT CAST(window_start AS date) AS day,
       count(*) AS sessions,
       round(avg(page_views), 2) AS page_views_per_session,
       round(avg(date_diff('second', window_start, window_end) - 1800) / 60.0, 1) AS minutes_per_session
FROM clickstream_windows
WHERE window_kind = 'visitor_session'
GROUP BY CAST(window_start AS date)
ORDER BY day
