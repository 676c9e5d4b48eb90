"""The Flink SQL jobs, run locally on PyFlink 1.20: the same queries as in the cloud, on files.

`run_flink_job("clickstream")` writes seeded events as JSON lines, renders the
job's statements with jobs/flink/main.py (local mode: filesystem tables in place of
Kinesis), runs them in STREAMING mode as one StatementSet on one task, and reads back what
every sink table wrote.

The input is bounded, so the job ends: at the end of input the source emits a final MAX
watermark, which closes every window still open. Before that the watermark follows the
records in file order (newest event time - the source's bound, read from the DDL), so
the generator places its records on purpose:
  out of order  a record swapped behind a newer one by at most 5 s, inside the 10 s
                bound: it still counts in its own windows;
  late          an early record written after records 45+ minutes newer: every minute and
                5-minute window it belongs to has been emitted when it arrives, so Flink
                drops it from them. Its visitor's session drops it too, unless that
                visitor is still active (clicks less than 30 minutes apart ever since):
                then the session is still open and Flink merges the click into it, as a
                session window should. It is a 5xx, so it still reaches the alert filter;
  malformed     an event time that does not parse: the job skips it instead of failing.

The report checks itself two ways: every sink's rows must equal the rows of a small
event-time model in this module (windows fired when the watermark passes their end,
records behind a fired window dropped, sessions merged per visitor), and the counts must
add up (page views == records in - skipped - late; session page views == records in -
skipped - clicks whose session had closed; every 5xx record is an alert). The model assumes the
watermark advances after each record, which is what Flink does when event times step by
more than 200 ms (pipeline.auto-watermark-interval) — true of the generator's data.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Any

from refarch.paths import JOBS_ROOT

FLINK_JOBS = JOBS_ROOT / "flink"
JOBS = ("clickstream",)   # the ad-tech job has its own local run: refarch/local/adtech_job.py
START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)   # fixed: a seeded run is reproducible
MINUTE = 60_000   # milliseconds
TUMBLE, SLIDE, HOP_SIZE, SESSION_GAP = MINUTE, MINUTE, 5 * MINUTE, 30 * MINUTE   # as in queries/*.sql
OUT_OF_ORDER_MAX_MS = 5_000     # generator: swaps stay well inside the watermark bound
LATE_BEHIND_MS = 45 * MINUTE    # generator: past the session gap + HOP size + bound
ISO_UTC = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")
WATERMARK = re.compile(r"WATERMARK\s+FOR\s+\w+\s+AS\s+\w+\s*-\s*INTERVAL\s+'(\d+)'\s+SECOND", re.IGNORECASE)


class FlinkReportMismatch(AssertionError):
    """What Flink wrote does not match the event-time model, or the counts do not add up."""


# --- sample data ---------------------------------------------------------------------

def iso(epoch_ms: int) -> str:
    """An event time as producers send it: ISO-8601, UTC, milliseconds, trailing Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _start_ms() -> int:
    return int(START.timestamp() * 1000)


def _shuffle_within_bound(rng: random.Random, events: list[dict], times: list[int]) -> list[dict]:
    """Sorted events with some neighbours swapped: the newer one first, at most 5 s apart."""
    order = sorted(range(len(events)), key=lambda i: times[i])
    i = 1
    while i < len(order):
        gap = times[order[i]] - times[order[i - 1]]
        if 0 < gap <= OUT_OF_ORDER_MAX_MS and rng.random() < 0.3:
            order[i - 1], order[i] = order[i], order[i - 1]
            i += 2
        else:
            i += 1
    return [events[i] for i in order]


def _insert_late(events: list[dict], late: dict, late_ms: int) -> list[dict]:
    """Put `late` after the first record at least LATE_BEHIND_MS newer than it."""
    for position, event in enumerate(events):
        if (_parse_time(event.get("event_time")) or 0) >= late_ms + LATE_BEHIND_MS:
            break
    else:
        raise ValueError("generated events do not span long enough to place a late record")
    return events[:position + 1] + [late] + events[position + 1:]


def generate_clickstream(size: int, seed: int) -> list[dict]:
    """`size` page views: visits of 1-6 clicks spread over ~100 minutes, plus one late 5xx
    record and one record whose event_time does not parse."""
    rng = random.Random(seed)
    pages = ["/", "/search", "/products", "/products/42", "/cart", "/checkout"]
    visitors = [f"visitor-{n:03d}" for n in range(max(3, size // 8))]
    events, times = [], []
    visit_starts = [0, 100 * MINUTE]   # the first and last visits fix the span
    while len(events) < size - 2:
        start = visit_starts.pop() if visit_starts else rng.randrange(100 * MINUTE)
        visitor, moment = rng.choice(visitors), _start_ms() + start
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            status = rng.choice([500, 502, 503]) if roll < 0.08 else 404 if roll < 0.13 else 200
            events.append({"visitor_id": visitor, "page": rng.choice(pages), "status": status,
                           "event_time": iso(moment)})
            times.append(moment)
            moment += rng.randrange(5_000, 240_000)
    events, times = events[:size - 2], times[:size - 2]
    ordered = _shuffle_within_bound(rng, events, times)
    late_ms = min(times) + rng.randrange(120_000)
    late = {"visitor_id": rng.choice(visitors), "page": "/checkout", "status": 503, "event_time": iso(late_ms)}
    ordered = _insert_late(ordered, late, late_ms)
    malformed = {"visitor_id": visitors[0], "page": "/", "status": 200, "event_time": "yesterday"}
    middle = len(ordered) // 2
    return ordered[:middle] + [malformed] + ordered[middle:]


GENERATORS: dict[str, Callable[[int, int], list[dict]]] = {
    "clickstream": generate_clickstream}


# --- the event-time model (what Flink must produce) -----------------------------------

def _parse_time(value: Any) -> int | None:
    """Epoch ms of an event time the job's JSON format accepts (TIMESTAMP_LTZ(3)), else None."""
    match = ISO_UTC.match(value) if isinstance(value, str) else None
    if not match:
        return None
    try:
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000 + int((match.group(2) or "0")[:3].ljust(3, "0"))


def _at(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


@dataclass(frozen=True)
class _Arrival:
    event: dict
    ms: int | None          # event time, None when it does not parse
    watermark: int | None   # the watermark when the record arrives (None: none yet)

    def fired(self, window_end: int) -> bool:
        """Has the window ending at window_end been emitted when this record arrives?"""
        return self.watermark is not None and window_end - 1 <= self.watermark


def _arrivals(events: list[dict], bound_ms: int) -> list[_Arrival]:
    arrivals, newest = [], None
    for event in events:
        ms = _parse_time(event.get("event_time"))
        arrivals.append(_Arrival(event, ms, None if newest is None else newest - bound_ms))
        if ms is not None:
            newest = ms if newest is None else max(newest, ms)
    return arrivals


def _hop_windows(ms: int) -> list[int]:
    last = ms - ms % SLIDE
    return list(range(last - HOP_SIZE + SLIDE, last + 1, SLIDE))


@dataclass
class _Model:
    rows: dict[str, list[dict]]
    windowed: int = 0        # records the windows may count (event time parses, known type)
    late: int = 0            # windowed records dropped from at least one fixed window
    out_of_order: int = 0    # windowed records behind a newer one, counted in all their windows
    counts: dict[str, int] = field(default_factory=dict)


def _status(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _clickstream_model(arrivals: list[_Arrival]) -> _Model:
    views: Counter = Counter()
    hop_requests: Counter = Counter()
    hop_errors: Counter = Counter()
    sessions: dict[str, list[list[int]]] = defaultdict(list)   # open [start, end, count]
    emitted: list[dict] = []
    model = _Model(rows={})
    newest = None
    for a in arrivals:
        status = _status(a.event.get("status"))
        if a.ms is None:
            continue
        model.windowed += 1
        is_error = status is not None and 500 <= status <= 599
        start = a.ms - a.ms % TUMBLE
        tumble_late = a.fired(start + TUMBLE)
        if not tumble_late:
            views[(start, a.event.get("page"))] += 1
        hops = [s for s in _hop_windows(a.ms) if not a.fired(s + HOP_SIZE)]
        for s in hops:
            hop_requests[s] += 1
            hop_errors[s] += is_error
        visitor = a.event.get("visitor_id")
        still_open = []
        for session in sessions[visitor]:
            if a.fired(session[1]):
                emitted.append(_session_row(visitor, session))
            else:
                still_open.append(session)
        merged = [a.ms, a.ms + SESSION_GAP, 1]
        keep = []
        for s in still_open:
            if s[0] <= merged[1] and s[1] >= merged[0]:   # Flink's TimeWindow.intersects
                merged = [min(s[0], merged[0]), max(s[1], merged[1]), s[2] + merged[2]]
            else:
                keep.append(s)
        session_late = a.fired(merged[1])
        sessions[visitor] = keep if session_late else keep + [merged]
        model.counts["session_dropped"] = model.counts.get("session_dropped", 0) + session_late
        if tumble_late:   # its minute's window has been emitted (so has the first HOP window)
            model.late += 1
        elif newest is not None and a.ms < newest:
            model.out_of_order += 1
        newest = a.ms if newest is None else max(newest, a.ms)
    for visitor, open_sessions in sessions.items():
        emitted += [_session_row(visitor, s) for s in open_sessions]
    model.rows["page_views_per_minute"] = [
        {"window_start": _at(s), "window_end": _at(s + TUMBLE), "page": page, "page_views": n}
        for (s, page), n in views.items()]
    model.rows["error_rate_5m"] = [
        {"window_start": _at(s), "window_end": _at(s + HOP_SIZE), "error_count": hop_errors[s],
         "request_count": n, "error_rate": hop_errors[s] / n} for s, n in hop_requests.items()]
    model.rows["visitor_sessions"] = emitted
    model.rows["server_error_alerts"] = [
        {"visitor_id": a.event.get("visitor_id"), "page": a.event.get("page"),
         "status": _status(a.event.get("status")), "event_time": None if a.ms is None else _at(a.ms)}
        for a in arrivals if (_status(a.event.get("status")) or 0) in range(500, 600)]
    model.counts |= {"hop_memberships": sum(hop_requests.values()),
                     "errors_in": len(model.rows["server_error_alerts"])}
    return model


def _session_row(visitor: str, session: list[int]) -> dict:
    return {"visitor_id": visitor, "session_start": _at(session[0]), "session_end": _at(session[1]),
            "page_views": session[2]}


MODELS: dict[str, Callable[[list[_Arrival]], _Model]] = {
    "clickstream": _clickstream_model}


# --- the report ----------------------------------------------------------------------

def _sort_key(row: dict) -> tuple:
    return tuple((value is None, value if value is not None else 0) for value in row.values())


def _normalized(rows: Iterable[dict]) -> list[dict]:
    return sorted(rows, key=_sort_key)


@dataclass(frozen=True)
class FlinkRunReport:
    job: str
    records_in: int
    skipped: int             # no parsable event time
    out_of_order: int        # arrived behind a newer record, inside the bound: counted
    late: int                # arrived behind the watermark: dropped from its (first) windows
    watermark_bound_s: int
    rows: dict[str, list[dict]]                                    # sink table -> rows Flink wrote
    expected: dict[str, list[dict]] = field(repr=False, compare=False)   # the model's rows
    counts: dict[str, int] = field(repr=False, compare=False)            # the model's totals
    seconds: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise FlinkReportMismatch(f"{self.job} run does not add up: " + "; ".join(problems))

    def problems(self) -> list[str]:
        found = []
        for table, expected in self.expected.items():
            got = self.rows.get(table, [])
            if got != _normalized(expected):
                missing = [r for r in _normalized(expected) if r not in got]
                extra = [r for r in got if r not in expected]
                found.append(f"{table}: {len(got)} rows, model {len(expected)}; "
                             f"missing {missing[:3]}, unexpected {extra[:3]}")
        windowed = self.records_in - self.skipped
        if self.job == "clickstream":
            views = sum(r["page_views"] for r in self.rows.get("page_views_per_minute", []))
            if views != windowed - self.late:
                found.append(f"page views {views} != records in {self.records_in} - skipped "
                             f"{self.skipped} - late {self.late}")
            requests = sum(r["request_count"] for r in self.rows.get("error_rate_5m", []))
            if requests != self.counts.get("hop_memberships"):
                found.append(f"5-minute request counts add up to {requests}, model {self.counts.get('hop_memberships')}")
            sessions = sum(r["page_views"] for r in self.rows.get("visitor_sessions", []))
            if sessions != windowed - self.counts.get("session_dropped", 0):
                found.append(f"session page views {sessions} != records in - skipped - dropped by the"
                             f" session windows ({windowed - self.counts.get('session_dropped', 0)})")
            alerts = len(self.rows.get("server_error_alerts", []))
            if alerts != self.counts.get("errors_in"):
                found.append(f"{alerts} alerts for {self.counts.get('errors_in')} 5xx records in")
        return found

    def rows_summary(self) -> list[tuple[str, str]]:
        lines = [
            (f"{self.job} job: records in", str(self.records_in)),
            ("skipped (no usable event time or type)", str(self.skipped)),
            (f"out of order within the {self.watermark_bound_s} s bound", f"{self.out_of_order} (counted)"),
            ("late, behind the watermark", f"{self.late} (dropped by the windows)")]
        for table, rows in self.rows.items():
            lines.append((table, _describe(table, rows)))
        joined = self.late - self.counts.get("session_dropped", self.late)
        if self.job == "clickstream" and joined:
            lines.append(("late clicks that joined an open session", str(joined)))
        lines.append(("matches the event-time model", "yes"))
        return lines

    def summary(self) -> list[str]:
        width = max(len(label) for label, _ in self.rows_summary())
        return [f"{label:<{width}}  {value}" for label, value in self.rows_summary()]

    summary_lines = summary


def _describe(table: str, rows: list[dict]) -> str:
    if table == "page_views_per_minute":
        return f"{len(rows)} page-minutes, {sum(r['page_views'] for r in rows)} page views"
    if table == "error_rate_5m":
        worst = max((r["error_rate"] for r in rows), default=0.0)
        return f"{len(rows)} windows, highest 5xx rate {worst:.1%}"
    if table == "visitor_sessions":
        return f"{len(rows)} sessions, {sum(r['page_views'] for r in rows)} page views"
    if table == "server_error_alerts":
        return f"{len(rows)} alerts"
    return f"{len(rows)} rows"


# --- the run -------------------------------------------------------------------------

def load_entry() -> ModuleType:
    """jobs/flink/main.py, imported by path (it is deployed as a file, not a package)."""
    path = FLINK_JOBS / "main.py"
    spec = spec_from_file_location("refarch_flink_main", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"no Flink entry {path} (is refarch installed from its source tree?)")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def watermark_bound_seconds(ddl: Iterable[str]) -> int:
    """The bound of the source's WATERMARK clause (the report's model uses the same)."""
    bounds = {int(m.group(1)) for statement in ddl for m in WATERMARK.finditer(statement)}
    if len(bounds) != 1:
        raise ValueError(f"expected one watermark bound in the job's DDL, found {sorted(bounds)}")
    return bounds.pop()


def _read_sink(directory: Path) -> list[dict]:
    rows = []
    if directory.is_dir():
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.name.startswith((".", "_")):
                rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _typed(row: dict) -> dict:
    """Flink's JSON row with its timestamps as UTC datetimes (they are written in UTC)."""
    typed = {}
    for column, value in row.items():
        if isinstance(value, str) and column in ("window_start", "window_end", "session_start",
                                                 "session_end", "event_time"):
            value = datetime.fromisoformat(value.removesuffix("Z")).replace(tzinfo=UTC)
        typed[column] = value
    return typed


def _table_env() -> Any:
    try:
        from pyflink.table import EnvironmentSettings, TableEnvironment
    except ImportError as missing:
        raise RuntimeError("PyFlink is not installed: pip install 'apache-flink==1.20.*' (needs Java 11 or 17)") from missing
    with warnings.catch_warnings():  # apache-beam 2.48 (PyFlink's) warns that pkg_resources is deprecated
        warnings.simplefilter("ignore")
        return TableEnvironment.create(EnvironmentSettings.in_streaming_mode())


def run_flink_job(job: str, events: list[dict] | None = None, *, seed: int = 3, size: int = 200,
                  workdir: Path | None = None, table_env: Any = None) -> FlinkRunReport:
    """Run one job folder of jobs/flink locally on `events` (default: `size` seeded ones).

    table_env: a streaming TableEnvironment to reuse (its JVM is what costs seconds); the
    run creates its tables in a database of its own and drops it afterwards, and sets the
    local session options (UTC, parallelism 1) on it. workdir keeps the input and the sink
    files; without it they go to a temporary folder that is removed.
    """
    if job not in JOBS:
        raise ValueError(f"job={job!r}: allowed {', '.join(JOBS)}")
    if events is None:
        if not 10 <= size <= 100_000:
            raise ValueError(f"size={size}: allowed 10 to 100000")
        events = GENERATORS[job](size, seed)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix=f"flink-{job}-") as scratch:
            return _run(job, events, Path(scratch), table_env)
    return _run(job, events, Path(workdir), table_env)


def _run(job: str, events: list[dict], workdir: Path, table_env: Any) -> FlinkRunReport:
    entry = load_entry()
    source, output = workdir / "input", workdir / "output"
    source.mkdir(parents=True, exist_ok=True)
    (source / "events.json").write_text("".join(json.dumps(e) + "\n" for e in events))
    properties = {"source.path": str(source), "output.path": str(output)}
    ddl, inserts = entry.render_statements(FLINK_JOBS / job, "local", properties)
    bound = watermark_bound_seconds(ddl)
    sinks = [re.match(r"INSERT\s+INTO\s+(\w+)", s, re.IGNORECASE).group(1) for s in inserts]

    started = time.monotonic()
    env = table_env if table_env is not None else _table_env()
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
    elapsed = time.monotonic() - started

    model = MODELS[job](_arrivals(events, bound * 1000))
    rows = {table: _normalized(_typed(r) for r in _read_sink(output / table)) for table in sinks}
    return FlinkRunReport(
        job=job, records_in=len(events), skipped=len(events) - model.windowed,
        out_of_order=model.out_of_order, late=model.late, watermark_bound_s=bound, rows=rows,
        expected=model.rows, counts=model.counts, seconds=elapsed)
