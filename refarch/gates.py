"""The gates every synthesized stack must pass: cdk-nag AwsSolutions, cfn-lint and checkov.

Used by the test suite (which fails on any finding) and by `refarch synth` (which
prints them). Snapshots are the fourth gate; they live in the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aws_cdk import CfnElement, Stack, Validations
from aws_cdk.cx_api import CloudAssembly
from cdk_nag import AwsSolutionsChecks

from refarch.application import PROJECT_ROOT
from refarch.iam_conditions import condition_problems
from refarch.patterns import BASELINE
from refarch.reachability import baseline_endpoints, unreachable
from refarch.checkov_gate import scan_templates

CFN_LINT_CONFIG = PROJECT_ROOT / ".cfnlintrc.yaml"
_ACK_PREFIX = "Annotation::AwsSolutions-"


@dataclass(frozen=True)
class Finding:
    gate: str          # "nag", "lint" or "checkov"
    rule: str
    level: str         # error / warning / informational
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.gate}] {self.rule} ({self.level}) at {self.where}: {self.message}"


@dataclass(frozen=True)
class Acknowledgement:
    rule: str
    where: str
    reason: str


@dataclass(frozen=True)
class StackGateReport:
    stack: str
    resources: int
    nag: tuple[Finding, ...]
    lint: tuple[Finding, ...]
    acknowledged: tuple[Acknowledgement, ...]
    checkov: tuple[Finding, ...] = ()
    checkov_skips: tuple[Acknowledgement, ...] = ()
    reach: tuple[Finding, ...] = ()    # compute in the VPC without an endpoint it calls
    iam: tuple[Finding, ...] = ()      # role statements whose conditions can never match

    @property
    def passed(self) -> bool:
        return not self.nag and not self.lint and not self.checkov and not self.reach and not self.iam


def nag_findings(stack: Stack) -> list[Finding]:
    """Unacknowledged AwsSolutions findings (errors and warnings) in `stack`."""
    report = AwsSolutionsChecks().validate_scope(stack)
    return [
        Finding("nag", violation.rule_name, str(violation.severity or "error"),
                ", ".join(r.construct_path or "?" for r in violation.violating_resources),
                violation.description)
        for violation in report.violations
    ]


def nag_acknowledgements(stack: Stack) -> list[Acknowledgement]:
    """Every AwsSolutions finding acknowledged in `stack`, with its reason."""
    found = []
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for rule, reason in entry.data.items():
                if rule.startswith(_ACK_PREFIX):
                    found.append(Acknowledgement(rule.removeprefix("Annotation::"),
                                                 construct.node.path, reason))
    return found


def lint_config() -> dict[str, Any]:
    return yaml.safe_load(CFN_LINT_CONFIG.read_text())


def lint_findings(template: dict[str, Any]) -> list[Finding]:
    """cfn-lint errors and warnings for `template`, with the project's configuration."""
    from cfnlint.api import ManualArgs, lint

    config = lint_config()
    matches = lint(json.dumps(template), config=ManualArgs(
        regions=config["regions"], ignore_checks=config.get("ignore_checks", [])))
    return [
        Finding("lint", match.rule.id, _lint_level(match.rule.id),
                "/".join(map(str, match.path)) if getattr(match, "path", None) else f"line {match.linenumber}",
                match.message)
        for match in matches
        if _lint_level(match.rule.id) != "informational"
    ]


def _lint_level(rule_id: str) -> str:
    return {"E": "error", "W": "warning"}.get(rule_id[:1], "informational")


def check_stacks(stacks: dict[str, Stack], assembly: CloudAssembly) -> list[StackGateReport]:
    """Run the gates over every stack of a synthesized assembly (checkov once, over all)."""
    reports = []
    scans = scan_templates(stack_template_path(assembly, stack) for stack in stacks.values())
    endpoints = baseline_endpoints(stack_template(assembly, stacks[BASELINE])) if BASELINE in stacks else set()
    for name, stack in stacks.items():
        template = stack_template(assembly, stack)
        scan = scans[stack_template_path(assembly, stack)]
        reports.append(StackGateReport(
            stack=name,
            resources=len(template.get("Resources", {})),
            nag=tuple(nag_findings(stack)),
            lint=tuple(lint_findings(template)),
            acknowledged=tuple(nag_acknowledgements(stack)),
            checkov=tuple(Finding("checkov", c.check_id, "error", c.resource, c.title) for c in scan.failed),
            checkov_skips=tuple(Acknowledgement(c.check_id, c.resource, c.reason) for c in scan.skipped),
            reach=tuple(reachability_findings(stack, template, endpoints)),
            iam=tuple(iam_condition_findings(stack, template)),
        ))
    return reports


def reachability_findings(stack: Stack, template: dict[str, Any], endpoints: set[str]) -> list[Finding]:
    """What compute in the VPC calls without an endpoint among the baseline's `endpoints`."""
    return [Finding("reach", u.service, "error", u.resource, u.detail)
            for u in unreachable(template, endpoints, logical_paths(stack))]


def iam_condition_findings(stack: Stack, template: dict[str, Any]) -> list[Finding]:
    return [Finding("iam", p.action, "error", p.resource, p.message)
            for p in condition_problems(template, logical_paths(stack))]


def logical_paths(stack: Stack) -> dict[str, str]:
    """Logical id -> construct path, so findings name resources as the code does."""
    return {stack.resolve(c.logical_id): c.node.path for c in stack.node.find_all() if isinstance(c, CfnElement)}


def stack_template(assembly: CloudAssembly, stack: Stack) -> dict[str, Any]:
    return json.loads(stack_template_path(assembly, stack).read_text())


def stack_template_path(assembly: CloudAssembly, stack: Stack) -> Path:
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    return Path(assembly.directory, artifact.template_file).resolve()
