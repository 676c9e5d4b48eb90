"""checkov over the synthesized templates: the third gate, beside cdk-nag and cfn-lint.

checkov runs from its own virtual environment (`make checkov` creates `.checkov/`),
so its pinned dependencies never meet the project's. A missing checkov is an error,
never a silent pass. A skip is written on the resource it concerns (the resource's
`Metadata.checkov.skip`, see `refarch.constructs.checkov`) and reported with its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.paths import PROJECT_ROOT

CHECKOV = PROJECT_ROOT / ".checkov" / "bin" / "checkov"
# Offline: no guideline download, no update check. Not --quiet: it drops the skips.
_ARGS = ("--framework", "cloudformation", "--output", "json", "--compact", "--skip-download")
_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


class CheckovUnavailable(RuntimeError):
    """checkov is not installed or did not produce a report."""


@dataclass(frozen=True)
class CheckovResult:
    check_id: str
    resource: str      # "<Type>.<LogicalId>", as checkov names it
    title: str
    reason: str = ""   # the skip's comment; empty for a failed check


@dataclass(frozen=True)
class TemplateScan:
    passed: int
    failed: tuple[CheckovResult, ...]
    skipped: tuple[CheckovResult, ...]


def scan_templates(templates: Iterable[Path], *, checkov: Path = CHECKOV) -> dict[Path, TemplateScan]:
    """Run checkov once over `templates`; one scan per template (absolute path)."""
    files = [Path(t).resolve() for t in templates]
    if not files:
        return {}
    if not checkov.is_file():
        raise CheckovUnavailable(f"checkov is not installed at {checkov}: run `make checkov`")
    command = [str(checkov), *_ARGS]
    for path in files:
        command += ["--file", str(path)]
    # Exit code 1 means "some check failed", which the caller reports; anything else is breakage.
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **_ENV}, check=False)
    if done.returncode not in (0, 1):
        raise CheckovUnavailable(f"checkov exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return _scans(_reports(done.stdout), files)


def _reports(stdout: str) -> list[dict[str, Any]]:
    try:
        output = json.loads(stdout)
    except json.JSONDecodeError as error:
        raise CheckovUnavailable(f"checkov printed no JSON report: {stdout.strip()[:300]!r}") from error
    reports = output if isinstance(output, list) else [output]
    if not all("results" in r for r in reports):
        # With nothing to scan checkov prints a bare summary: treat it as a broken run.
        raise CheckovUnavailable(f"checkov scanned no CloudFormation template: {stdout.strip()[:300]!r}")
    return reports


def _scans(reports: list[dict[str, Any]], files: list[Path]) -> dict[Path, TemplateScan]:
    passed = {path: 0 for path in files}
    failed: dict[Path, list[CheckovResult]] = {path: [] for path in files}
    skipped: dict[Path, list[CheckovResult]] = {path: [] for path in files}
    for report in reports:
        results = report["results"]
        for check in results["passed_checks"]:
            passed[_file(check)] += 1
        for check in results["failed_checks"]:
            failed[_file(check)].append(CheckovResult(check["check_id"], check["resource"], check["check_name"]))
        for check in results["skipped_checks"]:
            skipped[_file(check)].append(CheckovResult(
                check["check_id"], check["resource"], check["check_name"],
                check["check_result"].get("suppress_comment", "")))
    return {path: TemplateScan(passed[path], tuple(failed[path]), tuple(skipped[path])) for path in files}


def _file(check: dict[str, Any]) -> Path:
    return Path(check["file_abs_path"]).resolve()
