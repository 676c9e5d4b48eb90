-- Rejected rows by trade date and reason, from the ETL job's trades_rejected output (rows without a usable timestamp appear under trade_date 'undated-<day their file was first processed>', or 'unknown' from a lake written before that).
-- A reason's first and last trade_id help find the raw rows; the share is of that date's rejected rows, in percent.
SELECT
    coalesce(trade_date, 'unknown') AS trade_date,
    reason,
    count(*) AS rejected_rows,
    round(100 * CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (PARTITION BY coalesce(trade_date, 'unknown')), 1) AS share_pct,
    min(trade_id) AS first_trade_id,
    max(trade_id) AS last_trade_id
FROM trades_rejected
GROUP BY coalesce(trade_date, 'unknown'), reason
ORDER BY trade_date, rejected_rows DESC, reason
