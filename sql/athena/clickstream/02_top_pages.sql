-- The most viewed pages, from the job's per-minute windows.
SELECT page, sum(page_views) AS page_views, count(*) AS active_minutes
FROM clickstream_windows
WHERE window_kind = 'page_views_1m'
GROUP BY page
ORDER BY page_views DESC, page
LIMIT 20
