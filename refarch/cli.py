"""The `refarch` command: list, synth, diagram, demo, deploy."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import refarch  # noqa: F401  (selects the venv's Node before aws_cdk loads)
from refarch.checkov_gate import CheckovUnavailable
from refarch.config import SettingError
from refarch.patterns import PATTERNS
from refarch.render import (
    print_gate_table,
    print_localstack_deploy,
    print_replay_report,
    print_smoke_report,
    safe_text,
)

cli = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="AWS data-analytics reference architectures as CDK stacks.")
# A fixed width when piped (CI logs, make demo | tee) so tables are not squeezed to 80.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
ContextOption = Annotated[list[str] | None, typer.Option(
    "--context", "-c", help="A setting as key=value (repeatable), as with `cdk -c`.")]


class UsageError(Exception):
    """A mistake in how the command was called, reported as one line."""


def parse_context(pairs: list[str] | None) -> dict[str, str]:
    context = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--context expects key=value, got {pair!r}")
        context[key.strip()] = value.strip()
    return context


@cli.command("list")
def list_patterns() -> None:
    """The patterns and what each deploys."""
    table = Table(title="refarch patterns", show_lines=True)
    table.add_column("stack", style="bold")
    table.add_column("what it is")
    table.add_column("deploys")
    for pattern in PATTERNS:
        table.add_row(pattern.name, pattern.summary, "\n".join(pattern.deploys))
    console.print(table)


@cli.command()
def synth(context: ContextOption = None,
          outdir: Annotated[Path, typer.Option(help="Where to write the cloud assembly.")] = Path("cdk.out")
          ) -> None:
    """Synthesize the selected stacks, run the gates and print a table per stack."""
    from refarch.synthesis import synthesize

    result = synthesize(parse_context(context), outdir=str(outdir))
    print_gate_table(result.reports, console)
    from refarch.costs.report import summary_table

    console.print(summary_table(result))
    console.print(f"cloud assembly: {outdir}")
    if not all(r.passed for r in result.reports):
        raise typer.Exit(1)


@cli.command()
def diagram(context: ContextOption = None,
            out: Annotated[Path | None, typer.Option(help="Folder for the pages (default: docs/architecture).")] = None
            ) -> None:
    """Write each stack's data-path diagram (Mermaid in Markdown), generated from its template."""
    from refarch.diagram import DOCS, pages_for, write_pages
    from refarch.synthesis import synthesize

    with tempfile.TemporaryDirectory(prefix="refarch-diagram-") as outdir:
        # The placeholder account, as in tests: the pages do not change with who runs this.
        result = synthesize(parse_context(context), outdir=outdir, environ={}, gates=False)
        written = write_pages(pages_for(result), out or DOCS)
    for path in written:
        console.print(f"wrote {path}")


@cli.command()
def demo(context: ContextOption = None) -> None:
    """Synthesize and gate every stack, then run each pattern's local data path."""
    from refarch.local.demo import run_demo

    with tempfile.TemporaryDirectory(prefix="refarch-demo-") as outdir:
        ok = run_demo(parse_context(context), outdir=outdir, console=console)
    if not ok:
        raise typer.Exit(1)


@cli.command()
def cost(context: ContextOption = None,
         idle: Annotated[bool, typer.Option(help="Nothing flowing or stored: what the stacks cost by existing.")] = False
         ) -> None:
    """Monthly cost of every selected stack: what it deploys (its template) and what flows (the load settings)."""
    from refarch.costs.report import print_estimates
    from refarch.streaming_log_cost import streaming_log_cost_table
    from refarch.synthesis import synthesize

    with tempfile.TemporaryDirectory(prefix="refarch-cost-") as outdir:
        result = synthesize(parse_context(context), outdir=outdir, gates=False)
        print_estimates(console, result, idle=idle)   # reads the templates: inside the folder's life
    if "StreamingLogAnalytics" in result.stacks:   # how that stack sizes itself from its load
        console.print(streaming_log_cost_table(result.settings))


@cli.command()
def deploy(stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to deploy (default: all selected).")] = None,
           context: ContextOption = None,
           localstack: Annotated[bool, typer.Option(help="Deploy with cdklocal to a running LocalStack.")] = False,
           endpoint: Annotated[str | None, typer.Option(
               help="LocalStack's endpoint (default: $LOCALSTACK_ENDPOINT or http://localhost:4566).")] = None,
           approve: Annotated[bool, typer.Option(help="Skip the CDK CLI's approval prompt.")] = False) -> None:
    """Deploy with the project's pinned CDK CLI (cdklocal with --localstack)."""
    from refarch.application import PROJECT_ROOT, build_app
    from refarch.deploy.cdk_cli import CliMissing
    from refarch.flink_connector import applications_missing_the_connector

    _, _, built = build_app(parse_context(context))
    unknown = sorted(set(stacks or []) - set(built))
    if unknown:
        raise UsageError(f"no stack {', '.join(unknown)} among the selected: {', '.join(built)}")
    missing = applications_missing_the_connector(built[name] for name in (stacks or built))
    if localstack:
        if missing:  # the applications are no-ops there; say what the same assembly lacks for AWS
            console.print(f"note: {missing[0]} ships without the Kinesis connector jar; it deploys on "
                          "LocalStack (where Flink is a no-op) but needs `make flink-deps` for AWS")
        try:
            raise typer.Exit(_deploy_localstack(stacks or [], context or [], endpoint))
        except CliMissing as error:
            raise UsageError(str(error)) from None
    if missing:
        raise UsageError(f"{missing[0]} would ship its application zip without the Kinesis connector "
                         "jar: run `make flink-deps` first")
    tool = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
    if not tool.exists():
        raise UsageError(f"{tool.name} is not installed: run `make deploy` or `npm ci` in {PROJECT_ROOT}")
    command = [str(tool), "deploy", *(stacks or ["--all"])]
    for pair in context or []:
        command += ["-c", pair]
    if approve:
        command += ["--require-approval", "never"]
    console.print("running: " + " ".join(command))
    raise typer.Exit(subprocess.call(command, cwd=PROJECT_ROOT, env=os.environ.copy()))


def _deploy_localstack(stacks: list[str], context: list[str], endpoint: str | None) -> int:
    from refarch.deploy.localstack import endpoint_from
    from refarch.deploy.to_localstack import DeployFailed, deploy_to_localstack

    try:
        url = endpoint_from(endpoint)
    except ValueError as error:
        raise UsageError(str(error)) from None
    console.print(f"deploying to LocalStack at {url}")
    try:
        run = deploy_to_localstack(stacks, context, endpoint=url, echo=lambda line: print(line, flush=True))
    except DeployFailed as error:
        raise UsageError(str(error)) from None
    print_localstack_deploy(run, console)
    return 0 if run.succeeded else (run.exit_code or 1)


@cli.command()
def replay(stack: Annotated[str, typer.Argument(help="A deployed stack with a stream consumer (IotTelemetry).")],
           target: Annotated[str, typer.Option(help="aws (boto3's default session) or localstack.")] = "aws",
           endpoint: Annotated[str | None, typer.Option(help="LocalStack's endpoint (with --target localstack).")] = None,
           region: Annotated[str | None, typer.Option(help="Region (default: the session's).")] = None,
           delete_expired: Annotated[bool, typer.Option(
               help="Also delete a message once its remaining records have expired from the stream.")] = False,
           context: ContextOption = None) -> None:
    """Re-deliver stream records whose batches exhausted their retries, from the failure queue."""
    from refarch.config import settings_from_context
    from refarch.deploy.localstack import endpoint_from
    from refarch.replay import replay_deployed
    from refarch.smoke.target import StackNotDeployed, aws_target, localstack_target

    if target not in ("aws", "localstack"):
        raise UsageError(f"--target {target!r}: allowed aws or localstack")
    stage = settings_from_context({**_cdk_json_context(), **parse_context(context)}).stage
    try:
        where = (localstack_target(endpoint_from(endpoint), region or "us-east-1") if target == "localstack"
                 else aws_target(region))
        report = replay_deployed(stack, where, stage=stage, delete_expired=delete_expired)
    except (ValueError, StackNotDeployed) as error:
        raise UsageError(safe_text(str(error))) from None
    print_replay_report(stack, report, console)
    if not report.succeeded:
        raise typer.Exit(1)


@cli.command()
def smoke(stacks: Annotated[list[str], typer.Argument(help="Deployed stacks to check.")],
          target: Annotated[str, typer.Option(help="aws (boto3's default session) or localstack.")] = "aws",
          endpoint: Annotated[str | None, typer.Option(
              help="LocalStack's endpoint (default: $LOCALSTACK_ENDPOINT or http://localhost:4566).")] = None,
          region: Annotated[str | None, typer.Option(help="Region (default: the session's; us-east-1 on LocalStack).")] = None,
          timeout: Annotated[float | None, typer.Option(help="Seconds to wait for each step's data.")] = None,
          report_json: Annotated[Path | None, typer.Option(help="Also write the reports to this file as JSON.")] = None,
          context: ContextOption = None) -> None:
    """Send a seeded sample through deployed patterns and report what arrived, step by step."""
    from refarch.config import settings_from_context
    from refarch.deploy.localstack import endpoint_from
    from refarch.smoke import CHECKS, run_smoke
    from refarch.smoke.target import StackNotDeployed, aws_target, localstack_target

    unknown = [s for s in stacks if s not in CHECKS]
    if unknown:
        raise UsageError(f"no smoke check for {', '.join(unknown)}: allowed {', '.join(CHECKS)}")
    if target not in ("aws", "localstack"):
        raise UsageError(f"--target {target!r}: allowed aws or localstack")
    stage = settings_from_context({**_cdk_json_context(), **parse_context(context)}).stage
    try:
        where = (localstack_target(endpoint_from(endpoint), region or "us-east-1") if target == "localstack"
                 else aws_target(region))
    except ValueError as error:
        raise UsageError(str(error)) from None
    passed, reports = True, []
    for stack in stacks:
        with console.status(f"{stack}: starting") as status:
            try:
                report = run_smoke(stack, where, stage=stage, timeout=timeout,
                                   progress=lambda message, s=stack: _progress(status, f"{s}: {message}"))
            except StackNotDeployed as error:
                console.print(f"[red]{stack}[/]: {safe_text(str(error))}")
                passed = False
                continue
        print_smoke_report(report, console)
        reports.append(report)
        passed = passed and report.passed
    if report_json:
        import dataclasses
        import json

        report_json.write_text(json.dumps([dataclasses.asdict(r) | {"passed": r.passed} for r in reports], indent=2))
    if not passed:
        raise typer.Exit(1)


_last_progress_line = [0.0]


def _progress(status, message: str) -> None:
    """The spinner on a terminal; a line every 10 s in a log (CI, a pipe)."""
    import time

    status.update(safe_text(message))
    if not sys.stdout.isatty() and time.monotonic() - _last_progress_line[0] >= 10:
        _last_progress_line[0] = time.monotonic()
        console.print(safe_text(message))


def _cdk_json_context() -> dict:
    import json

    from refarch.paths import PROJECT_ROOT

    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def main() -> None:
    try:
        code = cli(standalone_mode=False)  # click returns the exit code instead of exiting
    except (SettingError, UsageError, CheckovUnavailable) as error:
        print(f"refarch: {error}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as error:
        if callable(getattr(error, "show", None)) and hasattr(error, "exit_code"):
            error.show()  # the CLI library's own usage errors (unknown option, ...)
            sys.exit(error.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
