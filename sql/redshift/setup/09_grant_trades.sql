-- What the load batch does to analytics.trades: 24_delete_loaded_dates deletes the staged days (DELETE, SELECT), 25_insert_trades inserts them (INSERT).
-- tests/sql/test_redshift_grants.py derives these privileges from the load statements: edit both together.
GRANT SELECT, INSERT, DELETE ON TABLE analytics.trades TO "${LOADER_USER}";
