"""Stack outputs: what `refarch smoke` (and a user) needs to find a deployed pattern's
entry points and stores without knowing their generated names."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Stack


def add_outputs(stack: Stack, outputs: Mapping[str, str]) -> None:
    """One CfnOutput per entry, its logical id the key (so the name is stable across deploys)."""
    for name, value in outputs.items():
        CfnOutput(stack, name, value=value)
