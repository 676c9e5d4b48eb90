-- Load reconciliation per trade date: rows and volume in analytics.trades against the lake's trades (Spectrum); a status other than 'ok' is a missing, partial or stale load.
-- missing_in_warehouse: the lake has the day, the warehouse does not (the load did not run since);
-- missing_in_lake: the warehouse has a day the lake no longer has; mismatch: both have it, counts or volume differ.
WITH lake_days AS (
    SELECT
        CAST(trade_date AS DATE) AS trade_date,
        COUNT(*) AS row_count,
        SUM(quantity) AS volume
    FROM lake.trades
    GROUP BY CAST(trade_date AS DATE)
),
warehouse_days AS (
    SELECT
        trade_date,
        COUNT(*) AS row_count,
        SUM(quantity) AS volume
    FROM analytics.trades
    GROUP BY trade_date
)
SELECT
    COALESCE(l.trade_date, w.trade_date) AS trade_date,
    COALESCE(l.row_count, 0) AS lake_rows,
    COALESCE(w.row_count, 0) AS warehouse_rows,
    COALESCE(l.volume, 0) AS lake_volume,
    COALESCE(w.volume, 0) AS warehouse_volume,
    CASE
        WHEN w.trade_date IS NULL THEN 'missing_in_warehouse'
        WHEN l.trade_date IS NULL THEN 'missing_in_lake'
        WHEN l.row_count <> w.row_count OR l.volume <> w.volume THEN 'mismatch'
        ELSE 'ok'
    END AS status
FROM lake_days AS l
FULL OUTER JOIN warehouse_days AS w
    ON w.trade_date = l.trade_date
ORDER BY 1
