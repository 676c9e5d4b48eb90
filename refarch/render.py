"""Every report the `refarch` command prints, as rich tables and lines, in one place.

refarch.cli and refarch.local.demo both print through these functions and pass in their
console; this module imports neither of them, so the two never import each other.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def safe_text(text: str) -> str:
    """Untrusted text (AWS responses, record contents) made inert for the terminal: rich markup
    escaped and control characters shown as escapes."""
    printable = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return escape(printable)


# --- synth gates and posture (refarch synth, refarch demo) -------------------------------

def print_gate_table(reports, console: Console) -> None:
    table = Table(title="gates per stack")
    for column in ("stack", "resources", "nag findings", "nag acknowledged", "lint findings",
                   "checkov failed", "checkov skipped", "reach findings", "iam findings", "result"):
        table.add_column(column, justify="right" if column not in ("stack", "result") else "left")
    for r in reports:
        table.add_row(r.stack, str(r.resources), str(len(r.nag)), str(len(r.acknowledged)),
                      str(len(r.lint)), str(len(r.checkov)), str(len(r.checkov_skips)),
                      str(len(r.reach)), str(len(r.iam)), "[green]pass[/]" if r.passed else "[red]FAIL[/]")
    console.print(table)
    for r in reports:
        for finding in (*r.nag, *r.lint, *r.checkov, *r.reach, *r.iam):
            console.print(f"  {r.stack}: {safe_text(str(finding))}")


def print_posture(report, console: Console) -> None:
    """The baseline's posture (refarch.local.reports.baseline.PostureReport) in full."""
    keys = Table(title="customer-managed keys")
    keys.add_column("key")
    keys.add_column("rotation")
    for key, rotation in report.keys.items():
        keys.add_row(key, "on" if rotation else "[red]off[/]")
    console.print(keys)

    encryption = Table(title="encryption at rest")
    for column in ("resource", "type", "encryption", "key"):
        encryption.add_column(column)
    for r in report.encryption:
        encryption.add_row(r.logical_id, r.type, r.algorithm or "[red]none[/]", r.key or "-")
    console.print(encryption)

    buckets = Table(title="buckets")
    for column in ("bucket", "public access blocked", "TLS only"):
        buckets.add_column(column)
    for bucket, blocked in report.public_access_blocked.items():
        buckets.add_row(bucket, _yes(blocked), _yes(report.tls_only[bucket]))
    console.print(buckets)

    console.print("endpoints: " + ", ".join(f"{s} ({t.lower()})" for s, t in sorted(report.endpoints.items())))
    console.print("flow logs: " + ("; ".join(report.flow_logs) or "[red]none[/]"))
    for trail, flags in report.trails.items():
        console.print(f"trail {trail}: " + ", ".join(f"{n} {_yes(on)}" for n, on in flags.items()))
    for problem in report.problems:
        console.print(f"[red]problem:[/] {safe_text(str(problem))}")


def print_posture_summary(reports, console: Console) -> None:
    """One row per stack other than the baseline."""
    table = Table(title="the other stacks: encryption at rest and bucket access (from their templates)")
    for column in ("stack", "encrypted at rest", "keys used", "buckets private + TLS only", "problems"):
        table.add_column(column, overflow="fold")
    for report in reports:
        encrypted = [r for r in report.encryption if r.algorithm]
        keys = sorted({r.key or r.algorithm for r in encrypted})
        private = sum(1 for b, ok in report.public_access_blocked.items() if ok and report.tls_only[b])
        table.add_row(report.stack, f"{len(encrypted)} of {len(report.encryption)}", "\n".join(keys),
                      f"{private} of {len(report.public_access_blocked)}",
                      "\n".join(report.problems) or "none")
    console.print(table)


def _yes(flag: bool) -> str:
    return "yes" if flag else "[red]no[/]"


# --- a pattern's local run (refarch demo) -------------------------------------------------

def print_run_report(report: Any, console: Console, *, seconds: float, preview_rows: int = 5) -> None:
    """A local run's summary lines, a few rows of each SQL result it carries, and how long it took."""
    for line in report.summary_lines():
        console.print(line, markup=False)
    for query in getattr(report, "queries", ()):
        console.print(f"  {query.name}:", markup=False)
        for line in query.preview(preview_rows):
            console.print(f"    {line}", markup=False)
    console.print(f"[dim]({seconds:.1f} s)[/]")


# --- deployed stacks (refarch deploy, smoke, replay) --------------------------------------

def print_smoke_report(report, console: Console) -> None:
    from refarch.smoke.report import ARRIVED, MISSING

    table = Table(title=f"smoke: {report.stack} on {report.target}")
    for column in ("step", "status", "detail"):
        table.add_column(column)
    colours = {ARRIVED: "green", MISSING: "red"}
    for step in report.steps:
        colour = colours.get(step.status, "yellow")
        table.add_row(safe_text(step.name), f"[{colour}]{step.status}[/]", safe_text(step.detail))
    console.print(table)


def print_localstack_deploy(run, console: Console) -> None:
    """Each stack's outcome of refarch.deploy.to_localstack.deploy_to_localstack."""
    table = Table(title="LocalStack deploy")
    for column in ("stack", "outcome", "seconds"):
        table.add_column(column)
    for outcome in run.stacks.values():
        style = "green" if outcome.outcome in ("deployed", "no changes") else "red"
        table.add_row(outcome.stack, f"[{style}]{outcome.outcome}[/]",
                      "" if outcome.seconds is None else f"{outcome.seconds:.1f}")
    console.print(table)


def print_replay_report(stack: str, report, console: Console) -> None:
    """What refarch.replay.replay_deployed did with each failed batch, and the totals."""
    from refarch.replay import report_rows

    table = Table(title=f"replay: {stack} ({report.stream}, retention {report.retention_hours} h)")
    for column in ("shard", "sequence range", "reason", "replayed", "still failing", "expired", "message"):
        table.add_column(column, justify="right" if column in ("replayed", "still failing", "expired") else "left")
    for row in report_rows(report):
        table.add_row(*(safe_text(cell) for cell in row))
    console.print(table)
    console.print(f"{len(report.messages)} failed batches: {report.replayed} records replayed, "
                  f"{report.still_failing} still failing, {report.expired} expired; {report.deleted} messages deleted")
