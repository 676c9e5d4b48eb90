"""Shared fixtures: the app is synthesized once per test session."""

from __future__ import annotations

import pytest

import refarch  # noqa: F401  (selects the venv's Node before aws_cdk loads)
from refarch.synthesis import Synthesis, synthesize

# No AWS account: the fixed placeholder environment, whatever this machine has set.
NO_AWS_ENV: dict[str, str] = {}


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory) -> Synthesis:
    """The whole app with default settings (stage dev), synthesized and gated once."""
    return synthesize({}, outdir=str(tmp_path_factory.mktemp("cdk.out")), environ=NO_AWS_ENV)


@pytest.fixture(scope="session")
def prod_synthesis(tmp_path_factory) -> Synthesis:
    """The app as stage prod (data stores retained), without the gates."""
    return synthesize({"stage": "prod"}, outdir=str(tmp_path_factory.mktemp("cdk.out.prod")),
                      environ=NO_AWS_ENV, gates=False)


def pytest_collection_modifyitems(items):
    # Every test that reaches a synthesized app needs Node and the jsii runtime.
    for item in items:
        if {"synthesis", "prod_synthesis"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.synth)
