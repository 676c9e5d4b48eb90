"""Deploying the app: the pinned CDK CLI, and what LocalStack needs besides it."""
