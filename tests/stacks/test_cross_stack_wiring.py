"""Pattern stacks import the baseline's key, VPC and subnets as exports (issue 11, item 2).

An export that another stack imports cannot be deleted or changed: CloudFormation refuses
to replace the baseline's key, VPC or subnets while a pattern stack uses them, instead of
breaking the pattern. In prod the baseline also has termination protection.
"""

from __future__ import annotations

import json

import pytest

from refarch.patterns import BASELINE, PATTERN_NAMES

PATTERNS = [p for p in PATTERN_NAMES if p != BASELINE]


def intrinsics(value, name: str) -> list:
    """Every `name` intrinsic (e.g. Fn::ImportValue) anywhere in `value`."""
    if isinstance(value, dict):
        found = [value[name]] if name in value else []
        return found + [i for v in value.values() for i in intrinsics(v, name)]
    if isinstance(value, list):
        return [i for v in value for i in intrinsics(v, name)]
    return []


def exports_of(template: dict) -> dict[str, dict]:
    """Export name -> the value it exports."""
    return {o["Export"]["Name"]: o["Value"] for o in template.get("Outputs", {}).values() if "Export" in o}


@pytest.mark.parametrize("stack", PATTERNS)
def test_every_reference_to_another_stack_is_an_imported_export(synthesis, stack):
    template = synthesis.template(stack)
    assert intrinsics(template, "Fn::GetStackOutput") == []
    imports = intrinsics(template, "Fn::ImportValue")
    assert imports, f"{stack} imports nothing from the baseline"
    exported = {**exports_of(synthesis.template(BASELINE)),
                **{n: v for s in PATTERNS for n, v in exports_of(synthesis.template(s)).items()}}
    assert set(imports) <= set(exported)


def test_the_baseline_exports_its_key_vpc_and_subnets(synthesis):
    values = json.dumps(list(exports_of(synthesis.template(BASELINE)).values()))
    for logical_prefix in ("DataKey", "NetworkVpc", "NetworkVpcisolatedSubnet1", "NetworkVpcisolatedSubnet2",
                           "AccessLogs"):
        assert f'"{logical_prefix}' in values, logical_prefix
    names = exports_of(synthesis.template(BASELINE))
    assert all(name.startswith("refarch-dev-SecurityBaseline:") for name in names)


def test_the_patterns_in_the_vpc_import_the_baseline_subnets(synthesis):
    imported = {i for s in ("IotTelemetry", "RedshiftWarehouse", "StreamingLogAnalytics")
                for i in intrinsics(synthesis.template(s), "Fn::ImportValue")}
    assert {i for i in imported if "isolatedSubnet" in i}


def test_prod_baseline_has_termination_protection_and_dev_does_not(synthesis, prod_synthesis):
    assert prod_synthesis.stacks[BASELINE].termination_protection is True
    assert synthesis.stacks[BASELINE].termination_protection is False
    artifact = prod_synthesis.assembly.get_stack_artifact(prod_synthesis.stacks[BASELINE].artifact_id)
    assert artifact.termination_protection is True
