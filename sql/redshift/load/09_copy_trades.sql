-- Loads every curated trade Parquet file (all trade_date=... folders under trades/) into the staging table.
-- The trailing slash keeps the prefix from also matching trades_rejected/.
COPY analytics.trades_staging
FROM 's3://${CURATED_BUCKET}/trades/'
IAM_ROLE '${COPY_ROLE_ARN}'
FORMAT AS PARQUET;
