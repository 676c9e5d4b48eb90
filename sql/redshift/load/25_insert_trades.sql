-- Inserts the staged trades into analytics.trades, deriving trade_date as the UTC calendar day of trade_ts (as the Glue job partitions the lake).
INSERT INTO analytics.trades (trade_id, symbol, side, quantity, price, trade_ts, trade_date)
SELECT
    trade_id,
    symbol,
    side,
    quantity,
    price,
    trade_ts,
    CAST(trade_ts AS DATE)
FROM analytics.trades_staging;
