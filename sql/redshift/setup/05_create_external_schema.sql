-- Redshift Spectrum: the lake's Glue database as the external schema `lake` (lake.trades, lake.trades_rejected), read in place on S3.
-- In setup/, run on its own (autocommit): external DDL is not safe inside a transaction block.
CREATE EXTERNAL SCHEMA IF NOT EXISTS lake
FROM DATA CATALOG
DATABASE '${LAKE_DATABASE}'
IAM_ROLE '${SPECTRUM_ROLE_ARN}';
