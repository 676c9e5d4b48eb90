-- The loader's own database user: the load batch runs as it, never as the admin. No password: it logs on only with the temporary credentials the Data API gets for it (GetClusterCredentials).
-- Redshift's CREATE USER has no IF NOT EXISTS: the setup runner first sends the skip-if query below
-- and skips the statement when it returns a row (the user exists from an earlier deploy).
-- skip-if: SELECT 1 FROM pg_user WHERE usename = '${LOADER_USER}'
CREATE USER "${LOADER_USER}" PASSWORD DISABLE;
