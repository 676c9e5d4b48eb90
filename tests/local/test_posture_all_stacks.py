"""Every pattern stack encrypts every data store with the baseline's data key."""

from __future__ import annotations

import pytest

from refarch.local.baseline import posture_report
from refarch.patterns import BASELINE, PATTERN_NAMES

PATTERN_STACKS = [name for name in PATTERN_NAMES if name != BASELINE]


@pytest.mark.parametrize("stack", PATTERN_STACKS)
def test_pattern_stack_has_no_posture_problem(synthesis, stack):
    assert posture_report(stack, synthesis.template(stack)).problems == []


@pytest.mark.parametrize("stack", PATTERN_STACKS)
def test_every_encrypted_resource_uses_the_baseline_data_key(synthesis, stack):
    report = posture_report(stack, synthesis.template(stack))
    assert report.encryption, "the stack should hold at least one data store"
    assert {(r.algorithm, r.key) for r in report.encryption} == {
        ("aws:kms", "refarch-dev-SecurityBaseline/DataKey")}


@pytest.mark.parametrize("stack", PATTERN_STACKS)
def test_every_bucket_is_private_and_tls_only(synthesis, stack):
    report = posture_report(stack, synthesis.template(stack))
    assert all(report.public_access_blocked.values())
    assert all(report.tls_only.values())
