-- Daily volume per sector: the lake's curated trades (Spectrum, read in place on S3) joined to the warehouse's symbols dimension; symbols the dimension lacks count under 'Unknown'.
SELECT
    t.trade_date,
    COALESCE(s.sector, 'Unknown') AS sector,
    COUNT(DISTINCT t.symbol) AS symbols,
    COUNT(*) AS trade_count,
    SUM(t.quantity) AS volume,
    SUM(t.price * t.quantity) AS notional
FROM lake.trades AS t
LEFT JOIN analytics.symbols AS s
    ON s.symbol = t.symbol
GROUP BY t.trade_date, COALESCE(s.sector, 'Unknown')
ORDER BY t.trade_date, sector
