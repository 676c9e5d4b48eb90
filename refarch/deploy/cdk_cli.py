"""Run the pinned CDK CLI (cdk, or cdklocal for LocalStack) and read what it did per stack."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from refarch.paths import PROJECT_ROOT

NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
# "✅  IotTelemetry (refarch-dev-IotTelemetry) (no changes)" / "❌  IotTelemetry (...) failed: ..."
_DONE = re.compile(r"^\s*✅\s+(?P<stack>[\w-]+)(?: \((?P<name>[\w-]+)\))?(?P<unchanged> \(no changes\))?\s*$")
_FAILED = re.compile(r"^\s*❌\s+(?P<stack>[\w-]+)(?: \((?P<name>[\w-]+)\))? failed")


class CliMissing(Exception):
    """The pinned CLI is not installed."""


def cli_tool(name: str) -> Path:
    tool = NODE_BIN / name
    if not tool.exists():
        raise CliMissing(f"{name} is not installed: run `make deps` (npm ci) in {PROJECT_ROOT}")
    return tool


@dataclass
class StackOutcome:
    stack: str
    outcome: str = "pending"       # deployed / no changes / failed / not deployed
    seconds: float | None = None   # CloudFormation's own time for the operation, where known


@dataclass
class DeployRun:
    exit_code: int
    stacks: dict[str, StackOutcome]
    output: list[str]

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and all(s.outcome in ("deployed", "no changes") for s in self.stacks.values())


def run_cli(command: Sequence[str], environment: Mapping[str, str],
            echo: Callable[[str], None] = print) -> tuple[int, list[str]]:
    """Run `command`, echoing every line as it comes; returns the exit code and the lines."""
    lines: list[str] = []
    process = subprocess.Popen(list(command), cwd=PROJECT_ROOT, env=dict(environment), text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        echo(lines[-1])
    return process.wait(), lines


def deploy(tool: Path, stacks: Sequence[str], *, app: Path, environment: Mapping[str, str],
           concurrency: int = 1, echo: Callable[[str], None] = print) -> DeployRun:
    """`cdk deploy` of `stacks` from the synthesized assembly `app`; the outcome per stack.

    The CLI orders stacks by their dependencies (and waits for a stack's dependencies before
    starting it when deploying several at once)."""
    outcomes = {stack: StackOutcome(stack) for stack in stacks}
    command = [str(tool), "deploy", "--app", str(app), "--require-approval", "never",
               "--concurrency", str(concurrency), "--progress", "events", *stacks]

    by_name = {stack_name(app, stack): stack for stack in stacks}

    def watch(line: str) -> None:
        echo(line)
        for pattern, result in ((_DONE, None), (_FAILED, "failed")):
            match = pattern.match(line)
            stack = match and (match["stack"] if match["stack"] in outcomes else by_name.get(match["stack"]))
            if stack:
                outcome = outcomes[stack]
                outcome.outcome = result or ("no changes" if match["unchanged"] else "deployed")

    code, lines = run_cli(command, environment, echo=watch)
    for outcome in outcomes.values():
        if outcome.outcome == "pending" and code != 0:
            outcome.outcome = "not deployed"  # the CLI stopped before it got to this stack
    return DeployRun(code, outcomes, lines)


def stack_name(assembly: Path, stack: str) -> str:
    """The CloudFormation name of construct `stack` in a synthesized assembly."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    artifact = manifest["artifacts"].get(stack, {})
    return artifact.get("properties", {}).get("stackName", stack)


def assembly_stacks(assembly: Path, selected: Sequence[str] = ()) -> list[str]:
    """The stacks of an assembly (or the `selected` ones and what they depend on), each after
    the stacks it depends on."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = {name: [d for d in artifact.get("dependencies", []) if d in manifest["artifacts"]
                     and manifest["artifacts"][d]["type"] == "aws:cloudformation:stack"]
              for name, artifact in manifest["artifacts"].items()
              if artifact["type"] == "aws:cloudformation:stack"}
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name not in ordered:
            for dependency in stacks[name]:
                visit(dependency)
            ordered.append(name)

    for name in sorted(selected or stacks):
        visit(name)
    return ordered


def template(assembly: Path, stack: str) -> dict:
    manifest = json.loads((assembly / "manifest.json").read_text())
    file = manifest["artifacts"][stack]["properties"]["templateFile"]
    return json.loads((assembly / file).read_text())
