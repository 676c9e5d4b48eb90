"""The StreamingLogAnalytics Flink SQL job (jobs/flink/streaming_log), run locally on PyFlink 1.20.

`run_job(records)` writes the raw records (one per line, as they sit on the events stream) to a
file, renders the job with jobs/flink/main.py in local mode (filesystem tables in place of
Kinesis), runs every INSERT as one streaming job on one task, and reads back each sink. The
bounded source ends with a final MAX watermark, which closes every window still open.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.local.flink_sql import FLINK_JOBS, _table_env, load_entry

JOB = "streaming_log"
SINKS = ("clean_events", "dead_letters", "click_windows", "server_error_alerts")


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
    (its JVM is what costs seconds); the run keeps its tables in a database of its own."""
    if any("\n" in record for record in records):
        raise ValueError("a record holds a newline: the local source reads one record per line")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="flink-streaming-log-") as scratch:
            return _run(records, Path(scratch), table_env, dedup_interval)
    return _run(records, Path(workdir), table_env, dedup_interval)


def _run(records: list[str], workdir: Path, table_env: Any, dedup_interval: str) -> JobOutput:
    entry = load_entry()
    source, output = workdir / "input", workdir / "output"
    source.mkdir(parents=True, exist_ok=True)
    (source / "records.txt").write_text("".join(record + "\n" for record in records))
    properties = {"source.path": str(source), "output.path": str(output), "state.ttl": dedup_interval}
    ddl, inserts = entry.render_statements(FLINK_JOBS / JOB, "local", properties)
    started = time.monotonic()
    env = table_env if table_env is not None else _table_env()
    entry.configure(env, "local", properties, JOB)
    database = f"refarch_{JOB}_{uuid.uuid4().hex[:8]}"
    env.execute_sql(f"CREATE DATABASE {database}")
    previous = env.get_current_database()
    env.use_database(database)
    try:
        entry.submit(env, ddl, inserts).wait()
    finally:
        env.use_database(previous)
        env.execute_sql(f"DROP DATABASE {database} CASCADE")
    return JobOutput({sink: _read(output / sink) for sink in SINKS}, time.monotonic() - started)


def _read(directory: Path) -> list[dict[str, Any]]:
    rows = []
    if directory.is_dir():
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.name.startswith((".", "_")):
                rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def sink_columns(sink: str) -> list[tuple[str, str]]:
    """(name, Flink type) of a sink table as the job's cloud DDL declares it."""
    path = next((FLINK_JOBS / JOB / "cloud").glob(f"*_sink_{sink}.sql"))
    body = re.split(r"CREATE TABLE \w+ \(", path.read_text(), maxsplit=1)[1].split(") WITH", 1)[0]
    return [tuple(re.match(r"\s*(\w+)\s+(.+?)\s*$", line).groups()) for line in body.split(",\n") if line.strip()]
