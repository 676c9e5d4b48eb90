-- Top movers: for each UTC trade date, the five symbols whose price moved most (in percent, up or down) from the day's first trade to its last.
-- Only symbols with at least two trades that day; change_pct = 100 * (close_price / open_price - 1) rounded to 2 decimals; ties rank by symbol.
WITH ordered AS (
    SELECT
        trade_date,
        symbol,
        price,
        row_number() OVER (PARTITION BY trade_date, symbol ORDER BY trade_ts, trade_id) AS from_open,
        row_number() OVER (PARTITION BY trade_date, symbol ORDER BY trade_ts DESC, trade_id DESC) AS from_close
    FROM trades
),
day_prices AS (
    SELECT
        trade_date,
        symbol,
        count(*) AS trade_count,
        max(CASE WHEN from_open = 1 THEN price END) AS open_price,
        max(CASE WHEN from_close = 1 THEN price END) AS close_price
    FROM ordered
    GROUP BY trade_date, symbol
    HAVING count(*) >= 2
),
ranked AS (
    SELECT
        trade_date,
        symbol,
        trade_count,
        open_price,
        close_price,
        CAST(close_price AS DOUBLE) / CAST(open_price AS DOUBLE) - 1 AS change_ratio,
        row_number() OVER (
            PARTITION BY trade_date
            ORDER BY abs(CAST(close_price AS DOUBLE) / CAST(open_price AS DOUBLE) - 1) DESC, symbol
        ) AS mover_rank
    FROM day_prices
)
SELECT
    trade_date,
    mover_rank,
    symbol,
    trade_count,
    open_price,
    close_price,
    round(100 * change_ratio, 2) AS change_pct
FROM ranked
WHERE mover_rank <= 5
ORDER BY trade_date, mover_rank
