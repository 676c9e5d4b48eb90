"""The app and the CLI as a user runs them: one-line setting errors, no Node banner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refarch.application import PROJECT_ROOT

pytestmark = pytest.mark.synth
REFARCH = Path(sys.executable).parent / "refarch"
CDK = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
EOL_BANNER = "end-of-life"


def run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "JSII_"))}
    environ.update(env)
    return subprocess.run(command, cwd=PROJECT_ROOT, env=environ, capture_output=True,
                          text=True, timeout=300)


def test_app_py_rejects_a_bad_stage_with_one_line_and_a_non_zero_exit(tmp_path):
    result = run([sys.executable, "app.py"], tmp_path,
                 CDK_CONTEXT_JSON=json.dumps({"stage": "qa"}), CDK_OUTDIR=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "refarch: invalid setting stage='qa': allowed one of dev, prod"]
    assert "Traceback" not in result.stderr + result.stdout


def test_refarch_synth_rejects_zero_azs_with_one_line(tmp_path):
    result = run([str(REFARCH), "synth", "-c", "azs=0", "--outdir", str(tmp_path)], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "refarch: invalid setting azs='0': allowed a whole number from 1 to 3"]


def test_refarch_synth_rejects_a_malformed_context_pair(tmp_path):
    result = run([str(REFARCH), "synth", "-c", "stage", "--outdir", str(tmp_path)], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "refarch: --context expects key=value, got 'stage'"


def test_cdk_cli_synth_rejects_a_bad_stage_naming_it(tmp_path):
    assert CDK.exists(), "the pinned CDK CLI is missing: run `make test` (it runs npm ci)"
    result = run([str(CDK), "synth", "-c", "stage=qa", "-o", str(tmp_path)], tmp_path)
    assert result.returncode != 0
    assert "refarch: invalid setting stage='qa': allowed one of dev, prod" in result.stderr
    assert "Traceback" not in result.stderr


def test_cdk_cli_synth_works_without_credentials_and_prints_no_node_banner(tmp_path):
    # No AWS account here: the app must synthesize for the placeholder environment
    # without any context lookup (which would need credentials).
    result = run([str(CDK), "synth", "--quiet", "-o", str(tmp_path)], tmp_path,
                 AWS_EC2_METADATA_DISABLED="true")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "SecurityBaseline.template.json").exists()
    assert EOL_BANNER not in (result.stdout + result.stderr).lower()


def test_refarch_list_names_every_pattern(tmp_path):
    result = run([str(REFARCH), "list"], tmp_path)
    assert result.returncode == 0
    assert "SecurityBaseline" in result.stdout
    assert EOL_BANNER not in (result.stdout + result.stderr).lower()


@pytest.mark.skipif(not Path("/usr/bin/node").exists(), reason="no system Node to compare with")
def test_the_banner_check_would_catch_an_end_of_life_node(tmp_path):
    version = subprocess.run(["/usr/bin/node", "--version"], capture_output=True, text=True).stdout
    if not version.startswith("v20."):
        pytest.skip(f"system Node {version.strip()} is not the end-of-life one this guards against")
    result = run([sys.executable, "-c", "import aws_cdk; aws_cdk.App()"], tmp_path,
                 JSII_NODE="/usr/bin/node")
    assert EOL_BANNER in (result.stdout + result.stderr).lower()


def test_refarch_demo_prints_the_gate_table_and_the_posture_report(tmp_path):
    result = run([str(REFARCH), "demo"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for heading in ("gates per stack", "customer-managed keys", "encryption at rest",
                    "endpoints:", "flow logs: VPC", "demo passed"):
        assert heading in result.stdout
    assert EOL_BANNER not in (result.stdout + result.stderr).lower()


def test_refarch_deploy_refuses_a_flink_stack_without_the_connector_jar(tmp_path):
    from refarch.paths import FLINK_CONNECTOR_JAR

    if FLINK_CONNECTOR_JAR.exists():
        pytest.skip("the connector jar is present here (make flink-deps ran)")
    result = run([str(REFARCH), "deploy", "StreamingLogAnalytics"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "refarch: StreamingLogAnalytics/ClickstreamJob would ship its application zip without the "
        "Kinesis connector jar: run `make flink-deps` first"]
    assert "running:" not in result.stdout  # the CDK CLI was never started


def test_refarch_deploy_names_an_unknown_stack(tmp_path):
    result = run([str(REFARCH), "deploy", "Nope"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("refarch: no stack Nope among the selected: SecurityBaseline,")
