-- What the load batch does to analytics.symbols: 20_delete_symbols empties it (DELETE; Redshift also requires SELECT for a DELETE), 21_insert_symbols refills it (INSERT).
-- tests/sql/test_redshift_grants.py derives these privileges from the load statements: edit both together.
GRANT SELECT, INSERT, DELETE ON TABLE analytics.symbols TO "${LOADER_USER}";
