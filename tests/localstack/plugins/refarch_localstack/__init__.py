"""LocalStack plugins for refarch's deploy tests on a machine without Docker (see README.md)."""
