"""`refarch demo`: synthesize and gate every stack, then run each pattern locally."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from refarch.local.baseline import PostureReport, posture_report
from refarch.patterns import BASELINE


def run_demo(context: Mapping[str, Any], *, outdir: str, console: Console) -> bool:
    """Print the gate table and every local run; True when everything passed."""
    from refarch.cli import print_gate_table
    from refarch.synthesis import synthesize

    console.rule("synth and gates")
    result = synthesize(context, outdir=outdir)
    print_gate_table(result.reports)
    ok = all(r.passed for r in result.reports)

    console.rule(f"{BASELINE}: security posture (read from the synthesized template)")
    posture = posture_report(BASELINE, result.template(BASELINE))
    print_posture(posture, console)
    ok = ok and not posture.problems
    console.rule("result")
    console.print("[green]demo passed[/]" if ok else "[red]demo found problems[/]")
    return ok


def print_posture(report: PostureReport, console: Console) -> None:
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
        console.print(f"[red]problem:[/] {problem}")


def _yes(flag: bool) -> str:
    return "yes" if flag else "[red]no[/]"
