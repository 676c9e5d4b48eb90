-- The schema of the clickstream's materialized view (streaming ingestion from the clean-events stream).
CREATE SCHEMA IF NOT EXISTS clickstream;
