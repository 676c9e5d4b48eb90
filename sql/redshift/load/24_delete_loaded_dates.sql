-- Deletes from analytics.trades every trade date present in staging, so the insert that follows replaces those days whole (a re-run never duplicates rows).
-- Whole days, like the lake: the Glue job rewrites a trade_date partition completely, so a trade the
-- job has since dropped from a day disappears here too. Sorted on trade_date, the scan touches only those days.
DELETE FROM analytics.trades
WHERE trade_date IN (
    SELECT DISTINCT CAST(trade_ts AS DATE)
    FROM analytics.trades_staging
);
