-- Daily volume and VWAP per symbol: trade count, shares traded, notional and volume-weighted average price for each UTC trade date.
-- vwap = sum(price * quantity) / sum(quantity), rounded to 4 decimals like price; buy_volume and sell_volume split the volume by side.
SELECT
    trade_date,
    symbol,
    count(*) AS trade_count,
    sum(quantity) AS volume,
    sum(CASE WHEN side = 'BUY' THEN quantity ELSE 0 END) AS buy_volume,
    sum(CASE WHEN side = 'SELL' THEN quantity ELSE 0 END) AS sell_volume,
    sum(price * quantity) AS notional,
    CAST(sum(price * quantity) / sum(quantity) AS DECIMAL(18, 4)) AS vwap,
    min(price) AS low_price,
    max(price) AS high_price
FROM trades
GROUP BY trade_date, symbol
ORDER BY trade_date, symbol
