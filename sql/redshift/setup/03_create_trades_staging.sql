-- The staging table COPY loads the curated Parquet into: exactly the Parquet columns, in file order.
--
-- COPY from Parquet maps columns by position and needs as many table columns as the files have
-- (six; trade_date is in the path, not the files), so this table has no trade_date.
-- Same DISTKEY as analytics.trades, so the INSERT ... SELECT into it stays on each slice.
-- BACKUP NO: a transient copy of the lake, rebuilt by every load, need not be in snapshots.
CREATE TABLE IF NOT EXISTS analytics.trades_staging (
    trade_id VARCHAR(64)    NOT NULL,
    symbol   VARCHAR(10)    NOT NULL,
    side     VARCHAR(4)     NOT NULL,
    quantity BIGINT         NOT NULL,
    price    DECIMAL(18, 4) NOT NULL,
    trade_ts TIMESTAMP      NOT NULL
)
BACKUP NO
DISTSTYLE KEY
DISTKEY (trade_id);
