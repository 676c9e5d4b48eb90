"""The StreamingLogAnalytics Flink SQL job (jobs/flink/streaming_log), run locally on PyFlink 1.20.

`run_job(records)` runs the deployed job over the raw records (one per line, as they sit on
the events stream) with its tables derived from the cloud DDL (refarch/local/flink_sql.py),
and reads back each sink.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.local.flink_sql import job_tables, run_local_job, sink_tables

JOB = "streaming_log"
SINKS = tuple(sink_tables(JOB))


@dataclass(frozen=True)
class JobOutput:
    rows: dict[str, list[dict[str, Any]]]   # sink table -> rows as Flink wrote them (JSON)
    seconds: float

    def windows(self, kind: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.rows["click_windows"] if r["window_kind"] == kind),
                      key=lambda r: (r["window_start"], r.get("page") or "", r.get("visitor_id") or ""))


def run_job(records: list[str], *, table_env: Any = None, dedup_interval: str = "10 min",
            workdir: Path | None = None) -> JobOutput:
    """Run the job over `records` (raw lines). table_env: a streaming TableEnvironment to reuse
    (its JVM is what costs seconds); dedup_interval: how long a seen event id is remembered."""
    run = run_local_job(JOB, records, properties={"state.ttl": dedup_interval}, table_env=table_env,
                        workdir=workdir)
    return JobOutput(run.rows, run.seconds)


def sink_columns(sink: str) -> list[tuple[str, str]]:
    """(name, Flink type) of a sink table as the job's cloud DDL declares it."""
    tables = {t.table.name: t.table for t in job_tables(JOB) if t.role == "sink"}
    if sink not in tables:
        raise ValueError(f"sink={sink!r}: the job's sinks are {', '.join(tables)}")
    return tables[sink].physical_columns()
