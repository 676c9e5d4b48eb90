-- Until a superuser runs this, every user (PUBLIC) may use every IAM role of the cluster for COPY, UNLOAD and the rest, which would make 11_grant_copy_role.sql meaningless.
-- After it, only superusers and the users granted ASSUMEROLE (the loader, for COPY with the COPY role)
-- may use a cluster role; a user added later needs its own GRANT ASSUMEROLE. Run after the loader's
-- grant, so a load never finds itself without one. No guard: PUBLIC's default is implicit (the system
-- views list explicit grants only), and revoking a privilege that is not held changes nothing.
REVOKE ASSUMEROLE ON ALL FROM PUBLIC FOR ALL;
