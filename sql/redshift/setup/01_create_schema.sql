-- The warehouse schema: every table the loader owns lives in `analytics`.
CREATE SCHEMA IF NOT EXISTS analytics;
