"""The deploy test fails when a stack does not deploy, and LocalStack never outlives it: run in a
child pytest whose LocalStack cannot create Lambda functions (its Docker executor, on a machine
without Docker), and once more interrupted like Ctrl-C in the middle of the deploy."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from refarch.paths import PROJECT_ROOT

DEPLOY_TEST = "tests/localstack/test_deploy.py::test_refarch_deploy_creates_every_stack"


def child_pytest(tmp_path: Path, extra_localstack_env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    pid_file = tmp_path / "localstack.pid"
    environment = {**os.environ, "REFARCH_DEPLOY_STACKS": "SecurityBaseline",
                   "REFARCH_LOCALSTACK_EXTRA_ENV": json.dumps(extra_localstack_env),
                   "REFARCH_LOCALSTACK_PID_FILE": str(pid_file)}
    process = subprocess.Popen([sys.executable, "-m", "pytest", DEPLOY_TEST, "-q", "-p", "no:cacheprovider"],
                               cwd=PROJECT_ROOT, env=environment, text=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    return process, pid_file


def group_members(pgid: int) -> list[int]:
    """Processes still alive (not zombies) in process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_a_stack_that_does_not_deploy_fails_the_deploy_test_and_localstack_stops(tmp_path):
    process, pid_file = child_pytest(tmp_path, {"LAMBDA_RUNTIME_EXECUTOR": "docker"})
    output, _ = process.communicate(timeout=600)
    (tmp_path / "child.log").write_text(output)
    assert process.returncode == 1, f"see {tmp_path / 'child.log'}"
    assert "1 failed" in output and "FAILED " + DEPLOY_TEST in output
    # it failed because the stack did not deploy, and said so per stack
    assert "refarch-dev-SecurityBaseline failed to deploy" in output
    assert re.search(r"│ SecurityBaseline\s+│ failed\s+│", output)
    localstack_pid = int(pid_file.read_text())
    assert group_members(localstack_pid) == []


def test_an_interrupted_deploy_test_stops_localstack(tmp_path):
    process, pid_file = child_pytest(tmp_path, {})
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pid_file.exists(), "the child never started LocalStack"
    localstack_pid = int(pid_file.read_text())
    time.sleep(8)  # into the deploy
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert group_members(localstack_pid) == [], output[-2000:]
