-- Empties the staging table before COPY. DELETE, not TRUNCATE: TRUNCATE commits the open transaction, and the load/ statements run as one.
DELETE FROM analytics.trades_staging;
