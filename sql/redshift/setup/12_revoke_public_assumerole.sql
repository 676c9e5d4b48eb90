-- Until a superuser runs this once, every user (PUBLIC) may use every IAM role of the cluster for COPY, UNLOAD and the rest, which would make 11_grant_copy_role.sql meaningless.
-- After it, only superusers and the users granted ASSUMEROLE (the loader, for COPY with the COPY role)
-- may use a cluster role; a user added later needs its own GRANT ASSUMEROLE. Run after the loader's
-- grant, so a load never finds itself without one. Skipped once PUBLIC holds no IAM-role privilege.
-- skip-if: SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM svv_iam_privileges WHERE identity_type = 'public')
REVOKE ASSUMEROLE ON ALL FROM PUBLIC FOR ALL;
