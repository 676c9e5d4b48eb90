-- Kinesis as an external schema: each stream the role may read is a table of it (streaming ingestion).
-- Run on its own (autocommit), as external DDL must be. The role is the warehouse's streaming-ingestion
-- role, allowed to read exactly the clean-events stream by the StreamingLogAnalytics stack.
CREATE EXTERNAL SCHEMA IF NOT EXISTS clickstream_kinesis
FROM KINESIS
IAM_ROLE '${STREAMING_ROLE_ARN}';
