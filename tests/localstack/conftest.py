"""Fixtures of the deploy tests: one LocalStack per test session, the app deployed into it once
through `refarch deploy --localstack` (the path a user takes), and the smoke reports of every
stack through `refarch smoke --target localstack`.

Knobs for the test that proves this suite fails when a stack does not deploy
(test_deploy_failure.py runs it in a child pytest): REFARCH_DEPLOY_STACKS (stacks to deploy),
REFARCH_LOCALSTACK_EXTRA_ENV (JSON settings for LocalStack) and REFARCH_LOCALSTACK_PID_FILE
(where the LocalStack process id is written).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from refarch.patterns import PATTERN_NAMES, stack_name
from refarch.paths import PROJECT_ROOT
from tests.localstack.server import LocalStackServer, start_localstack

REFARCH = Path(sys.executable).parent / "refarch"
STAGE = "dev"


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.deploy)


@dataclass
class CommandRun:
    exit_code: int
    output: str
    seconds: float


def run_refarch(*args: str, timeout: float) -> CommandRun:
    started = time.monotonic()
    done = subprocess.run([str(REFARCH), *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    print(output)  # shown by pytest when a test fails
    return CommandRun(done.returncode, output, round(time.monotonic() - started, 1))


def selected_stacks() -> list[str]:
    return [s for s in os.environ.get("REFARCH_DEPLOY_STACKS", "").split(",") if s] or list(PATTERN_NAMES)


@pytest.fixture(scope="module")
def localstack() -> LocalStackServer:
    server = start_localstack(json.loads(os.environ.get("REFARCH_LOCALSTACK_EXTRA_ENV") or "{}"))
    if pid_file := os.environ.get("REFARCH_LOCALSTACK_PID_FILE"):
        Path(pid_file).write_text(str(server.pid))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def first_deploy(localstack) -> CommandRun:
    explicit = os.environ.get("REFARCH_DEPLOY_STACKS", "").split(",") if os.environ.get("REFARCH_DEPLOY_STACKS") else []
    return run_refarch("deploy", "--localstack", "--endpoint", localstack.endpoint, *explicit, timeout=600)


@pytest.fixture(scope="module")
def cloudformation(localstack):
    return aws_client(localstack, "cloudformation")


def aws_client(localstack: LocalStackServer, service: str):
    return boto3.client(service, endpoint_url=localstack.endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture(scope="module")
def deployed_stack_names(first_deploy) -> dict[str, str]:
    """pattern -> CloudFormation stack name, for every stack the test deploys."""
    return {pattern: stack_name(STAGE, pattern) for pattern in selected_stacks()}


@pytest.fixture(scope="module")
def smoke_run(localstack, first_deploy, tmp_path_factory) -> tuple[CommandRun, dict[str, dict]]:
    """`refarch smoke` of every deployed stack on LocalStack, and its JSON reports by stack."""
    report_file = tmp_path_factory.mktemp("smoke") / "reports.json"
    run = run_refarch("smoke", *selected_stacks(), "--target", "localstack", "--endpoint", localstack.endpoint,
                      "--report-json", str(report_file), timeout=600)
    reports = {r["stack"]: r for r in json.loads(report_file.read_text())} if report_file.exists() else {}
    return run, reports
