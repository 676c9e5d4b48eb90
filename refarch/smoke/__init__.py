"""`refarch smoke`: after a deploy, send a small seeded sample through each pattern and report,
step by step, what arrived, what is missing, and what the target cannot run (and why)."""

from __future__ import annotations

from collections.abc import Callable

from refarch.patterns import stack_name
from refarch.smoke.adtech import smoke_adtech
from refarch.smoke.baseline import smoke_baseline
from refarch.smoke.firehose import smoke_firehose
from refarch.smoke.iot import smoke_iot
from refarch.smoke.lake import smoke_lake
from refarch.smoke.report import SmokeReport
from refarch.smoke.streaming_log import smoke_streaming_log
from refarch.smoke.target import Progress, Target
from refarch.smoke.warehouse import smoke_warehouse

SmokeCheck = Callable[..., SmokeReport]
CHECKS: dict[str, SmokeCheck] = {
    "SecurityBaseline": smoke_baseline,
    "IotTelemetry": smoke_iot,
    "FirehoseParquet": smoke_firehose,
    "BatchDataLake": smoke_lake,
    "RedshiftWarehouse": smoke_warehouse,
    "StreamingLogAnalytics": smoke_streaming_log,
    "AdTech": smoke_adtech,
}
# How long to wait for each pattern's data by default (Firehose buffers up to 5 minutes on AWS).
# AdTech on AWS: the job's windows close the attribution window (5 min) after their end (5 min).
DEFAULT_TIMEOUTS = {"aws": {"FirehoseParquet": 420.0, "BatchDataLake": 1800.0, "StreamingLogAnalytics": 600.0,
                            "AdTech": 900.0},
                    "localstack": {}}
DEFAULT_TIMEOUT = 60.0


def run_smoke(stack: str, target: Target, *, stage: str, timeout: float | None = None,
              progress: Progress = lambda message: None) -> SmokeReport:
    check = CHECKS[stack]
    wait = timeout if timeout is not None else DEFAULT_TIMEOUTS[target.name].get(stack, DEFAULT_TIMEOUT)
    return check(target, stack_name(stage, stack), timeout=wait, progress=progress)
