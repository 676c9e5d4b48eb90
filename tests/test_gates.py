"""The gates hold for every synthesized stack: cdk-nag, cfn-lint, snapshots."""

from __future__ import annotations

import pytest

from refarch.constructs.nag import MIN_REASON_LENGTH
from refarch.patterns import PATTERN_NAMES
from tests.masking import TemplateSnapshot, mask_asset_hashes


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_cdk_nag_reports_no_unacknowledged_finding(synthesis, stack):
    report = next(r for r in synthesis.reports if r.stack == stack)
    assert [str(f) for f in report.nag] == []


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_every_nag_acknowledgement_gives_a_reason(synthesis, stack):
    report = next(r for r in synthesis.reports if r.stack == stack)
    for ack in report.acknowledged:
        assert len(ack.reason.strip()) >= MIN_REASON_LENGTH, ack


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_cfn_lint_reports_no_error_or_warning(synthesis, stack):
    report = next(r for r in synthesis.reports if r.stack == stack)
    assert [str(f) for f in report.lint] == []


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_template_matches_snapshot(synthesis, stack, snapshot):
    template = mask_asset_hashes(synthesis.template(stack))
    assert template == snapshot.use_extension(TemplateSnapshot)


def test_gates_run_over_every_selected_stack(synthesis):
    assert [r.stack for r in synthesis.reports] == list(PATTERN_NAMES)
    assert all(r.resources > 0 for r in synthesis.reports)
