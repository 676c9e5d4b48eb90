"""Snapshots ignore a Lambda asset's content but catch any change to infrastructure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_lambda as lambda_

from tests.masking import MASK, mask_asset_hashes

pytestmark = pytest.mark.synth


def synth_function_stack(tmp_path: Path, *, handler_source: str, memory_mb: int) -> dict:
    code = tmp_path / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "index.py").write_text(handler_source)
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "Fn", env=Environment(account="123456789012", region="us-east-1"))
    lambda_.Function(stack, "Handler", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                     code=lambda_.Code.from_asset(str(code)), memory_size=memory_mb)
    assembly = app.synth()
    return json.loads(Path(assembly.directory, "Fn.template.json").read_text())


@pytest.fixture
def templates(tmp_path):
    def build(name: str, source: str, memory: int) -> dict:
        return synth_function_stack(tmp_path / name, handler_source=source, memory_mb=memory)

    return {
        "original": build("a", "def handler(e, c):\n    return 1\n", 256),
        "code_changed": build("b", "def handler(e, c):\n    return 2\n", 256),
        "memory_changed": build("c", "def handler(e, c):\n    return 1\n", 512),
    }


def test_changing_handler_code_changes_the_raw_template(templates):
    # The premise: CDK names the asset by its content hash, so the raw template moves.
    assert templates["original"] != templates["code_changed"]


def test_changing_handler_code_leaves_the_masked_template_unchanged(templates):
    masked = mask_asset_hashes(templates["original"])
    assert masked == mask_asset_hashes(templates["code_changed"])
    assert MASK in json.dumps(masked)


def test_changing_a_resource_property_changes_the_masked_template(templates):
    assert mask_asset_hashes(templates["original"]) != mask_asset_hashes(templates["memory_changed"])
