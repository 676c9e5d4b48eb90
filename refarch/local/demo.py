"""`refarch demo`: synthesize and gate every stack, then run each pattern locally."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
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
    others = [posture_report(name, result.template(name)) for name in result.stacks if name != BASELINE]
    if others:
        print_posture_summary(others, console)
        ok = ok and not any(report.problems for report in others)

    for pattern, run in LOCAL_RUNS.items():
        if pattern not in result.settings.patterns:
            continue
        console.rule(f"{pattern}: local run")
        started = time.perf_counter()
        try:
            report = run(result.settings)
        except AssertionError as error:  # a report whose counts do not add up
            console.print(f"[red]{error}[/]")
            ok = False
            continue
        for line in report.summary_lines():
            console.print(line, markup=False)
        for query in getattr(report, "queries", ()):  # SQL results, a few rows each
            console.print(f"  {query.name}:", markup=False)
            for line in query.preview(5):
                console.print(f"    {line}", markup=False)
        console.print(f"[dim]({time.perf_counter() - started:.1f} s)[/]")
    console.rule("result")
    console.print("[green]demo passed[/]" if ok else "[red]demo found problems[/]")
    return ok


def _firehose(settings):
    from refarch.local.firehose_parquet import run_firehose_parquet
    return run_firehose_parquet(3000)


def _iot(settings):
    from refarch.local.iot_telemetry import run_iot_telemetry
    return run_iot_telemetry(devices=50, readings_per_device=20)


def _lake(settings):
    from refarch.local.data_lake import run_data_lake
    return run_data_lake(2000)


def _warehouse(settings):
    from refarch.local.warehouse import run_warehouse
    return run_warehouse()


class _Runs:
    """Several local runs shown as one (a pattern with more than one job)."""

    def __init__(self, reports) -> None:
        self.reports = reports

    def summary_lines(self) -> list[str]:
        return [line for report in self.reports for line in report.summary_lines()]


def _streaming_log(settings):
    from refarch.local.streaming_log import run_streaming_log
    batch_max = settings.clickstream.batch_max
    return run_streaming_log(400, batch_size=min(20, batch_max), batch_max=batch_max)


def _adtech(settings):
    from refarch.local.adtech import run_adtech
    # Five rounds: on the default seed the loop has converged by the third; each round is a Flink run.
    return run_adtech(settings.adtech, rounds=5, decisions_per_placement=2000)


# Each pattern's local run at its demo size; the tests call the same functions smaller.
LOCAL_RUNS: dict[str, Callable[[Any], Any]] = {
    "IotTelemetry": _iot,
    "FirehoseParquet": _firehose,
    "BatchDataLake": _lake,
    "RedshiftWarehouse": _warehouse,
    "StreamingLogAnalytics": _streaming_log,
    "AdTech": _adtech,
}


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


def print_posture_summary(reports: list[PostureReport], console: Console) -> None:
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
