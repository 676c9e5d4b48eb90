-- Server errors (5xx) per page, with the share of that page's views they are.
SELECT page,
       SUM(CASE WHEN status BETWEEN 500 AND 599 THEN 1 ELSE 0 END) AS server_errors,
       COUNT(*) AS page_views,
       ROUND(CAST(SUM(CASE WHEN status BETWEEN 500 AND 599 THEN 1 ELSE 0 END) AS DECIMAL(18, 4)) / COUNT(*), 4) AS error_share
FROM clickstream.events
GROUP BY page
HAVING SUM(CASE WHEN status BETWEEN 500 AND 599 THEN 1 ELSE 0 END) > 0
ORDER BY server_errors DESC, page;
