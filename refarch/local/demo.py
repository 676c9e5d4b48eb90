"""`refarch demo`: synthesize and gate every stack, then run each pattern locally."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console

from refarch.local.baseline import posture_report
from refarch.patterns import BASELINE
from refarch.render import print_gate_table, print_posture, print_posture_summary, print_run_report, safe_text


def run_demo(context: Mapping[str, Any], *, outdir: str, console: Console) -> bool:
    """Print the gate table and every local run; True when everything passed."""
    from refarch.synthesis import synthesize

    console.rule("synth and gates")
    result = synthesize(context, outdir=outdir)
    print_gate_table(result.reports, console)
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
            console.print(f"[red]{safe_text(str(error))}[/]")
            ok = False
            continue
        print_run_report(report, console, seconds=time.perf_counter() - started)
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
