"""What every local run of a Flink SQL job (jobs/flink/<job>) shares: the deployed entry point
(jobs/flink/main.py, imported by path), the job's tables as its cloud DDL declares them, a
streaming TableEnvironment, and `run_local_job`, which runs a job over records on PyFlink.

A job's local run is the deployed job with its tables derived from cloud/ (main.py's
`local_tables`: filesystem connector, same schema), so what runs here is what runs in the cloud
but for where the rows come from and go. Each job's own checks are its module:
refarch/local/adtech_job.py and refarch/local/streaming_log_job.py.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Any

from refarch.paths import JOBS_ROOT

FLINK_JOBS = JOBS_ROOT / "flink"
WATERMARK = re.compile(r"WATERMARK\s+FOR\s+\w+\s+AS\s+\w+\s*-\s*INTERVAL\s+'(\d+)'\s+SECOND", re.IGNORECASE)


def load_entry() -> ModuleType:
    """jobs/flink/main.py, imported by path (it is deployed as a file, not a package), once."""
    name, path = "refarch_flink_main", FLINK_JOBS / "main.py"
    if name in sys.modules:
        return sys.modules[name]
    spec = spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"no Flink entry {path} (is refarch installed from its source tree?)")
    module = module_from_spec(spec)
    sys.modules[name] = module   # before running it: its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def watermark_bound_seconds(ddl: Iterable[str]) -> int:
    """The bound of the source's WATERMARK clause."""
    bounds = {int(m.group(1)) for statement in ddl for m in WATERMARK.finditer(statement)}
    if len(bounds) != 1:
        raise ValueError(f"expected one watermark bound in the job's DDL, found {sorted(bounds)}")
    return bounds.pop()


def job_tables(job: str) -> list[Any]:
    """The job's tables (main.JobTable: where, table, role) as its cloud/ DDL declares them."""
    return load_entry().job_tables(FLINK_JOBS / job)


def sink_tables(job: str) -> list[str]:
    """The tables the job's INSERTs write, in file order."""
    return [t.table.name for t in job_tables(job) if t.role == "sink"]


def streaming_table_env() -> Any:
    try:
        from pyflink.table import EnvironmentSettings, TableEnvironment
    except ImportError as missing:
        raise RuntimeError("PyFlink is not installed: pip install -e '.[dev]' (needs Java 11 or 17)") from missing
    with warnings.catch_warnings():   # apache-beam (PyFlink's) warns that pkg_resources is deprecated
        warnings.simplefilter("ignore")
        return TableEnvironment.create(EnvironmentSettings.in_streaming_mode())


def read_sink(directory: Path) -> list[dict]:
    """Every JSON line the filesystem sink committed under `directory` (not its hidden files)."""
    rows: list[dict] = []
    if directory.is_dir():
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.name.startswith((".", "_")):
                rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


@dataclass(frozen=True)
class LocalJobRun:
    ddl: list[str]                      # the statements that ran, tables derived for local mode
    rows: dict[str, list[dict]]         # sink table -> rows as Flink wrote them (JSON)
    seconds: float


def run_local_job(job: str, records: Sequence[str], *, properties: Mapping[str, str] | None = None,
                  table_env: Any = None, workdir: Path | None = None) -> LocalJobRun:
    """Run jobs/flink/<job> over `records` (raw, one per source record) and read back every sink.

    The records go to one file the job's source reads; `properties` are the job's further
    runtime properties (source.path and output.path are the run's). The job runs on one task,
    so watermarks advance in arrival order, and the bounded source ends with a MAX watermark
    that closes every window still open. table_env: a streaming TableEnvironment to reuse (its
    JVM is what costs seconds); the run keeps its tables in a database of its own and drops it.
    """
    if any("\n" in record for record in records):
        raise ValueError("a record holds a newline: the local source reads one record per line")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix=f"flink-{job}-") as scratch:
            return _run(job, records, dict(properties or {}), table_env, Path(scratch))
    return _run(job, records, dict(properties or {}), table_env, Path(workdir))


def _run(job: str, records: Sequence[str], properties: dict[str, str], table_env: Any,
         workdir: Path) -> LocalJobRun:
    entry = load_entry()
    tables = entry.job_tables(FLINK_JOBS / job)
    if sum(t.role == entry.SOURCE for t in tables) != 1:
        raise ValueError(f"{job}: run_local_job feeds one source table; the job has "
                         f"{[t.table.name for t in tables if t.role == entry.SOURCE]}")
    source, output = workdir / "input", workdir / "output"
    source.mkdir(parents=True, exist_ok=True)
    (source / "records.txt").write_text("".join(record + "\n" for record in records))
    properties |= {"source.path": str(source), "output.path": str(output)}
    ddl, inserts = entry.render_statements(FLINK_JOBS / job, "local", properties)
    started = time.monotonic()
    env = table_env if table_env is not None else streaming_table_env()
    entry.configure(env, "local", properties, job)
    database = f"refarch_{job}_{uuid.uuid4().hex[:8]}"
    env.execute_sql(f"CREATE DATABASE {database}")
    previous = env.get_current_database()
    env.use_database(database)
    try:
        entry.submit(env, ddl, inserts).wait()
    finally:
        env.use_database(previous)
        env.execute_sql(f"DROP DATABASE {database} CASCADE")
    rows = {t.table.name: read_sink(output / t.table.name) for t in tables if t.role == entry.SINK}
    return LocalJobRun(ddl, rows, time.monotonic() - started)


def flink_format_options(fmt: str, role: str) -> set[str] | None:
    """The option keys (without the "<fmt>." prefix) of Flink's own `fmt` format factory for a
    source ("source": its deserializer) or a sink, or None when Flink has no such format.
    Asks the JVM of PyFlink's gateway, started by the first TableEnvironment."""
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    factories = jvm.org.apache.flink.table.factories
    kind = factories.DeserializationFormatFactory if role == "source" else factories.SerializationFormatFactory
    loader = jvm.Thread.currentThread().getContextClassLoader()
    try:
        factory = factories.FactoryUtil.discoverFactory(loader, kind._java_lang_class, fmt)
    except Exception as missing:   # py4j's wrapper of Flink's ValidationException
        if "Could not find any factory" in str(missing):
            return None
        raise
    return {o.key() for o in [*factory.requiredOptions(), *factory.optionalOptions()]}
