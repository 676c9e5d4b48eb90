-- Loads the curated trade Parquet files one lake ETL run wrote (its COPY manifest lists them, with their sizes) into the staging table.
-- Only the trade dates that run rewrote: a load costs what changed, not the lake's history.
COPY analytics.trades_staging
FROM '${LOAD_MANIFEST}'
IAM_ROLE '${COPY_ROLE_ARN}'
FORMAT AS PARQUET
MANIFEST;
