-- The loader may look up objects in the warehouse schema (and nothing more: no CREATE, so it runs no DDL; the admin owns the tables).
GRANT USAGE ON SCHEMA analytics TO "${LOADER_USER}";
