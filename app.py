#!/usr/bin/env python3
"""CDK entry point: `cdk synth`, `cdk deploy`. Builds the stacks selected by context."""

import sys

import refarch  # noqa: F401  (selects the venv's Node before aws_cdk loads)
from refarch.config import SettingError


def main() -> int:
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from refarch.application import build_stacks
    from refarch.config import settings_from_context

    app = App()  # the CDK CLI passes cdk.json's context and every -c key=value
    try:
        settings = settings_from_context(app.node.get_all_context())
    except SettingError as error:
        print(f"refarch: {error}", file=sys.stderr)
        return 2
    build_stacks(app, settings)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # deploy nothing nag rejects
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
