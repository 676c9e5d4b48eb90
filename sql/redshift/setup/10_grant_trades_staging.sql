-- What the load batch does to analytics.trades_staging: 22_clear_trades_staging empties it (DELETE, SELECT), 23_copy_trades loads it (COPY needs INSERT), 24 and 25 read it (SELECT).
-- tests/sql/test_redshift_grants.py derives these privileges from the load statements: edit both together.
GRANT SELECT, INSERT, DELETE ON TABLE analytics.trades_staging TO "${LOADER_USER}";
