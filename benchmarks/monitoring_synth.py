"""What every stack's dashboard (cdk-monitoring-constructs) costs at synth, in the same process.

Run with `make bench`. Prints figures; asserts nothing. The whole app is synthesized with
its dashboards (refarch.monitoring, as built) and without them (monitor_data_path replaced
by a no-op), alternating, after a warm-up of both. Wall time moves with whatever else the
machine runs; CPU time (this process and the jsii kernel it drives) much less.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

_started = time.perf_counter()
import refarch  # noqa: E402,F401  (selects the venv's Node before aws_cdk loads)
import aws_cdk  # noqa: E402,F401  (starts the jsii runtime)

_cdk_loaded = time.perf_counter()
import cdk_monitoring_constructs  # noqa: E402,F401  (loads the library's jsii assembly, once per process)

LIBRARY_IMPORT_SECONDS = time.perf_counter() - _cdk_loaded
CDK_IMPORT_SECONDS = _cdk_loaded - _started

import refarch.application as application  # noqa: E402

ROUNDS = 9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """CPU time of this process and of its live descendants (the jsii kernel runs in Node):
    on a shared machine it moves far less than wall time when others load the cores."""
    return time.process_time() + _descendants_cpu(Path("/proc/self"))


def _descendants_cpu(proc: Path) -> float:
    total = 0.0
    for task in (proc / "task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:  # ended meanwhile
                continue
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS + _descendants_cpu(Path(f"/proc/{pid}"))
    return total


def synth(with_dashboards: bool) -> tuple[float, float]:
    monitor = application.monitor_data_path
    if not with_dashboards:
        application.monitor_data_path = lambda stack: None
    try:
        with tempfile.TemporaryDirectory() as outdir:
            wall, cpu = time.perf_counter(), cpu_seconds()
            app, _, _ = application.build_app({}, outdir=outdir, environ={})
            app.synth()
            return time.perf_counter() - wall, cpu_seconds() - cpu
    finally:
        application.monitor_data_path = monitor


def main() -> None:
    synth(True), synth(False)  # warm-up: first calls load more of both assemblies
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(ROUNDS):
        for case in (False, True):
            runs[case].append(synth(case))
    print(f"import aws-cdk-lib + start jsii (once): {CDK_IMPORT_SECONDS:.2f} s; "
          f"import cdk-monitoring-constructs (once): {LIBRARY_IMPORT_SECONDS:.2f} s")
    print(f"{'case':<48} {'wall s':>7} {'ratio':>6} {'cpu s':>7} {'ratio':>6}")
    base_wall = statistics.median(w for w, _ in runs[False])
    base_cpu = statistics.median(c for _, c in runs[False])
    for case, name in ((False, "whole app without dashboards (baseline)"),
                       (True, "whole app, a dashboard per stack")):
        wall, cpu = statistics.median(w for w, _ in runs[case]), statistics.median(c for _, c in runs[case])
        print(f"{name:<48} {wall:>7.3f} {wall / base_wall:>6.2f} {cpu:>7.3f} {cpu / base_cpu:>6.2f}")
    print(f"(medians of {ROUNDS} alternating rounds; cpu = this process + the jsii kernel)")


if __name__ == "__main__":
    main()
