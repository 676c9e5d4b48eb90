"""Reusable L3 constructs. Each module imports only aws-cdk-lib, constructs and the
helpers in this package, so it can be copied into another project with its helpers."""
