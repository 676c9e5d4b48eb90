-- By default every user (PUBLIC) may create tables in schema public: without this, the loader could run DDL there after all.
-- After it only superusers create objects in public; the warehouse's own objects live in analytics,
-- owned by the admin. Revoking a privilege that is not held changes nothing, so a re-run is harmless.
-- (Temporary tables, TEMP on the database, are left to PUBLIC: they last one session and hold nothing.)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
