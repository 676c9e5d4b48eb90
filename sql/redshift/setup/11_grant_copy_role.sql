-- The loader may name the COPY role in a COPY (23_copy_trades) and for nothing else: not UNLOAD, not external functions or models.
GRANT ASSUMEROLE ON '${COPY_ROLE_ARN}' TO "${LOADER_USER}" FOR COPY;
