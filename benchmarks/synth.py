"""Synth-time benchmark: the whole refarch app against an empty CDK app, same process.

Run with `make bench`. Prints figures; asserts nothing. Both apps are timed after the
jsii runtime has started, so the ratio compares CDK work, not Node start-up.
"""

from __future__ import annotations

import statistics
import tempfile
import time

_started = time.perf_counter()
import refarch  # noqa: E402,F401  (selects the venv's Node before aws_cdk loads)
from aws_cdk import App  # noqa: E402  (this import starts the jsii runtime)

from refarch.application import build_app  # noqa: E402
from refarch.gates import check_stacks  # noqa: E402

STARTUP_SECONDS = time.perf_counter() - _started
ROUNDS = 5


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def synth_empty() -> None:
    with tempfile.TemporaryDirectory() as outdir:
        App(outdir=outdir).synth()


def synth_refarch(with_gates: bool):
    def run() -> None:
        with tempfile.TemporaryDirectory() as outdir:
            app, _, stacks = build_app({}, outdir=outdir, environ={})
            assembly = app.synth()
            if with_gates:
                check_stacks(stacks, assembly)
    return run


def main() -> None:
    synth_empty()  # warm-up: first calls load more of the jsii assembly
    cases = {
        "empty CDK app (baseline)": synth_empty,
        "refarch app, synth only": synth_refarch(with_gates=False),
        "refarch app, synth + nag + cfn-lint + checkov": synth_refarch(with_gates=True),
    }
    results = {name: [timed(case) for _ in range(ROUNDS)] for name, case in cases.items()}
    baseline = statistics.median(results["empty CDK app (baseline)"])

    print(f"import aws-cdk-lib + start jsii runtime (once): {STARTUP_SECONDS:.2f} s")
    print(f"{'case':<50} {'median s':>9} {'best s':>8} {'x empty':>8}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<50} {median:>9.3f} {min(times):>8.3f} {median / baseline:>8.1f}")
    print(f"({ROUNDS} rounds each; ratio = median / median of the empty app)")


if __name__ == "__main__":
    main()
