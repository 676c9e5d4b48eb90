-- Rejected rows per symbol from the lake's trades_rejected (Spectrum), with company and sector from the warehouse's dimension; symbols it does not know (often the bad ones) have none.
-- The symbol is compared as the job would have normalised it (trimmed, upper case); rows without one show as '(none)'.
-- reasons lists each reason with its row count, most frequent first.
WITH rejected AS (
    SELECT
        COALESCE(NULLIF(UPPER(TRIM(symbol)), ''), '(none)') AS symbol,
        reason,
        COUNT(*) AS row_count
    FROM lake.trades_rejected
    GROUP BY COALESCE(NULLIF(UPPER(TRIM(symbol)), ''), '(none)'), reason
)
SELECT
    r.symbol,
    s.company,
    s.sector,
    SUM(r.row_count) AS rejected_rows,
    LISTAGG(r.reason || ' ' || CAST(r.row_count AS VARCHAR), ', ') WITHIN GROUP (ORDER BY r.row_count DESC, r.reason) AS reasons
FROM rejected AS r
LEFT JOIN analytics.symbols AS s
    ON s.symbol = r.symbol
GROUP BY r.symbol, s.company, s.sector
ORDER BY rejected_rows DESC, r.symbol
