-- The trades fact table: one row per curated trade, with trade_date derived from trade_ts (UTC) at load time.
--
-- Columns follow the curated Parquet (jobs/glue/trades_etl.py) plus trade_date. The lake keeps
-- trade_date only in the S3 path (trade_date=YYYY-MM-DD/), and COPY from Parquet cannot read
-- partition columns from the path, so 25_insert_trades.sql derives it as CAST(trade_ts AS DATE);
-- the job partitions by the UTC day of trade_ts, so the two agree (queries/02 checks it per day).
-- PRIMARY KEY is informational in Redshift (not enforced): the planner uses it; uniqueness comes
-- from the lake (one row per trade_id) and the delete-then-insert reload.
--
-- DISTKEY(trade_id): trade_id is unique, so rows spread evenly over the slices; distributing by
-- symbol would co-locate per-symbol work but skew the slices (a few symbols carry most of the
-- volume). The staging table shares the key, so the reload's INSERT ... SELECT never moves rows
-- between nodes, and the symbols dimension is DISTSTYLE ALL, so joins on symbol stay local anyway.
-- COMPOUND SORTKEY(trade_date, trade_ts): the reload deletes whole trade dates and the analytic
-- queries filter on date ranges, so zone maps skip every block outside the range; trade_ts second
-- serves intraday ranges. Loads arrive in date order, so the table stays mostly sorted.
-- No ENCODE clauses: Redshift picks column encodings itself (ENCODE AUTO) for a table created without them.
CREATE TABLE IF NOT EXISTS analytics.trades (
    trade_id   VARCHAR(64)    NOT NULL,
    symbol     VARCHAR(10)    NOT NULL,
    side       VARCHAR(4)     NOT NULL,
    quantity   BIGINT         NOT NULL,
    price      DECIMAL(18, 4) NOT NULL,
    trade_ts   TIMESTAMP      NOT NULL,
    trade_date DATE           NOT NULL,
    PRIMARY KEY (trade_id)
)
DISTSTYLE KEY
DISTKEY (trade_id)
COMPOUND SORTKEY (trade_date, trade_ts);
