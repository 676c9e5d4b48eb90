"""The CI workflow users copy is valid for GitHub and passes a workflow security audit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from refarch.paths import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "ci.yml"
# The linters come with the dev extras, next to this interpreter (a missing one fails).
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, check=False)


def test_workflow_matches_githubs_workflow_schema():
    done = run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_has_no_zizmor_finding_even_for_an_auditor():
    # Offline: the audits that need GitHub's API are left out, none is relaxed.
    done = run(str(BIN / "zizmor"), "--offline", "--persona", "auditor", "--no-progress", str(WORKFLOW))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_workflow_runs_make_test_and_diffs_pull_requests_only_with_an_account():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    test_steps = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert "make deps" in test_steps and test_steps[-1] == "make test"
    diff = workflow["jobs"]["cdk-diff"]
    assert diff["if"] == "github.event_name == 'pull_request'"
    commands = [step["run"] for step in diff["steps"] if "run" in step]
    assert any("cdk synth" in c for c in commands) and any("cdk diff" in c for c in commands)
    # Every step after the check runs only when an account is configured.
    assert all(step.get("if") == "steps.aws.outputs.configured == 'true'" for step in diff["steps"][1:])


def test_every_action_is_pinned_to_a_commit():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses
    for action in uses:
        ref = action.split("@", 1)[1]
        assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), action


def test_the_linters_reject_a_broken_and_an_unsafe_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    steps:\n      - run: make test\n")  # no runs-on
    done = run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken))
    assert done.returncode != 0
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text("on: pull_request\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - uses: actions/checkout@v4\n"
                      "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    done = run(str(BIN / "zizmor"), "--offline", "--no-progress", str(unsafe))
    assert done.returncode != 0
    assert "template-injection" in done.stdout and "unpinned-uses" in done.stdout
