"""StreamingLogAnalytics, run locally: websites' posts through the edge, the Flink job on PyFlink,
and what each of the three sinks would receive, with counts that add up.

  edge       every post validated against the collection API's JSON-schema model (jsonschema,
             draft 4, what API Gateway applies): a refused post is a 400 with the validator's
             reason; an accepted one becomes one Kinesis record per event
  stream     those records, plus what a server-side producer puts on the stream directly
  job        jobs/flink/streaming_log on local PyFlink: dead letters by reason, duplicates
             removed, clean events flagged (bot, late), windows, sessions, 5xx alerts
  sinks      the lake (Parquet read back by DuckDB, the Athena named queries), the search index
             (every document against the strict mapping), the warehouse (the streaming view's SQL
             on DuckDB over rows shaped as streaming ingestion delivers them)

The report checks itself (StreamingLogMismatch when something does not add up).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refarch import clickstream_schema as schema
from refarch.local.generators.clickstream import Traffic, generate_traffic
from refarch.local.data_lake import QueryResult
from refarch.local.streaming_log_job import JobOutput, run_job
from refarch.local.streaming_log_sinks import mapping_problems, query_lake, run_warehouse, write_lake

HOP_WINDOWS = 5   # a record counts in 5 sliding windows (5 minutes, every minute)


class StreamingLogMismatch(AssertionError):
    """The counts of the run do not add up, or a sink would refuse what it receives."""


def edge_reasons(posts: list[list[dict]], batch_max: int = schema.MAX_BATCH) -> tuple[list[str], Counter]:
    """(Kinesis records of the accepted posts, refused events by the validator's reason)."""
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import best_match

    validator = Draft4Validator(schema.request_schema(batch_max))
    records, refused = [], Counter()
    for events in posts:
        error = best_match(validator.iter_errors({"events": events}))
        if error is None:
            records += [json.dumps(event, separators=(",", ":")) for event in events]
        else:
            refused[error.message] += len(events)
    return records, refused


@dataclass
class StreamingLogReport:
    posted: int                          # events in the posts
    refused_at_edge: Counter             # validator reason -> events (400)
    accepted: int                        # events put on the stream by the API
    direct: int                          # records a server-side producer put on the stream
    dead_letters: Counter                # the job's reason -> records
    duplicates: int                      # records the job dropped as copies (stream - clean - dead)
    clean: int
    late: int
    bots: int
    late_humans: int                     # late events from people (bots are in no window)
    alerts: int
    server_errors: int                   # clean events with a 5xx status
    windows: dict[str, int]              # window kind -> rows
    page_views_counted: int
    session_page_views: int
    hop_memberships: int
    lake_rows: dict[str, int]            # lake table -> rows read back from Parquet
    lake_partitions: dict[str, int]      # lake table -> dt= partitions
    search_documents: int
    search_problems: list[str]
    warehouse_rows: int
    warehouse_matches_lake: bool
    queries: list[QueryResult] = field(default_factory=list)
    expected: Traffic | None = field(default=None, repr=False)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise StreamingLogMismatch("StreamingLogAnalytics local run does not add up: " + "; ".join(problems))

    def problems(self) -> list[str]:
        found = []

        def check(ok: bool, message: str) -> None:
            if not ok:
                found.append(message)
        refused = sum(self.refused_at_edge.values())
        stream = self.accepted + self.direct
        check(self.posted == refused + self.accepted, f"posted {self.posted} != refused {refused} + accepted {self.accepted}")
        check(stream == self.clean + sum(self.dead_letters.values()) + self.duplicates,
              f"stream {stream} != clean {self.clean} + dead letters {sum(self.dead_letters.values())} "
              f"+ duplicates {self.duplicates}")
        if self.expected is not None:
            expected_edge = self.expected.expected_edge
            check(all(any(want in got and n == self.refused_at_edge[got] for got in self.refused_at_edge)
                      for want, n in expected_edge.items()) and refused == sum(expected_edge.values()),
                  f"refused at the edge {dict(self.refused_at_edge)}, generated {dict(expected_edge)}")
            check(self.dead_letters == self.expected.expected_dead,
                  f"dead letters {dict(self.dead_letters)}, generated {dict(self.expected.expected_dead)}")
            check(self.duplicates == self.expected.duplicates,
                  f"{self.duplicates} duplicates dropped, {self.expected.duplicates} re-sent")
            check(self.late == self.expected.late, f"{self.late} flagged late, {self.expected.late} sent late")
            check(self.bots == self.expected.bots, f"{self.bots} flagged bots, {self.expected.bots} sent")
        check(self.alerts == self.server_errors, f"{self.alerts} alerts for {self.server_errors} clean 5xx events")
        human_on_time = self.clean - self.bots - self.late_humans
        check(self.page_views_counted == human_on_time,
              f"page views in the minute windows {self.page_views_counted} != people's on-time events {human_on_time}")
        check(self.hop_memberships == HOP_WINDOWS * human_on_time,
              f"5-minute window counts {self.hop_memberships} != 5 x {human_on_time} (late records are "
              "generated further behind than any window is open)")
        check(human_on_time <= self.session_page_views <= human_on_time + self.late_humans,
              f"session page views {self.session_page_views} outside {human_on_time} .. "
              f"{human_on_time + self.late_humans} (a late view joins its session only while it is open)")
        check(self.lake_rows == {"clickstream_events": self.clean, "clickstream_windows": sum(self.windows.values()),
                                 "clickstream_dead_letters": sum(self.dead_letters.values())},
              f"lake rows {self.lake_rows}")
        check(self.search_documents == self.clean and not self.search_problems,
              f"{self.search_documents} documents for {self.clean} clean events; mapping problems {self.search_problems[:3]}")
        check(self.warehouse_rows == self.clean and self.warehouse_matches_lake,
              f"{self.warehouse_rows} rows in the warehouse view for {self.clean} clean events "
              f"(same values as the lake: {self.warehouse_matches_lake})")
        return found

    def summary_lines(self) -> list[str]:
        refused = sum(self.refused_at_edge.values())
        lines = [f"posted {self.posted} events: refused at the edge (400) {refused}, put on the stream {self.accepted};"
                 f" a server-side producer put {self.direct} more"]
        lines += [f"  400 {n}: {reason}" for reason, n in sorted(self.refused_at_edge.items())]
        lines.append(f"stream {self.accepted + self.direct} records -> dead letters {sum(self.dead_letters.values())}, "
                     f"duplicates dropped {self.duplicates}, clean {self.clean} "
                     f"(of them late {self.late}, bots {self.bots})")
        lines += [f"  dead letter {n}: {reason}" for reason, n in sorted(self.dead_letters.items())]
        lines.append(f"windows: " + ", ".join(f"{kind} {n}" for kind, n in self.windows.items())
                     + f"; page views counted {self.page_views_counted}, in sessions {self.session_page_views}; "
                     f"5xx alerts {self.alerts}")
        lines.append("lake (Parquet read back): " + ", ".join(
            f"{t} {n} rows in {self.lake_partitions[t]} dt= partitions" for t, n in self.lake_rows.items()))
        lines.append(f"search index: {self.search_documents} documents, all typed as the mapping says, none unmapped")
        lines.append(f"warehouse: {self.warehouse_rows} rows in clickstream.events (the streaming view's SQL on "
                     "DuckDB), the same values as the lake")
        lines.append("counts add up: sent = refused + accepted; stream = clean + dead letters + duplicates; "
                     "each sink holds every clean event")
        return lines


def run_streaming_log(size: int = 400, *, seed: int = 12, batch_size: int = 20, batch_max: int = schema.MAX_BATCH,
                      table_env: Any = None, workdir: Path | None = None) -> StreamingLogReport:
    """`batch_max`: the API's batch limit (setting clickstream_batch_max), as its model applies it."""
    if not 1 <= batch_size <= batch_max:
        raise ValueError(f"batch_size={batch_size}: allowed 1 to batch_max ({batch_max})")
    traffic = generate_traffic(size, seed, batch_size=batch_size)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="refarch-streaming-log-") as scratch:
            return _run(traffic, Path(scratch), table_env, batch_max)
    return _run(traffic, Path(workdir), table_env, batch_max)


def _run(traffic: Traffic, workdir: Path, table_env: Any, batch_max: int) -> StreamingLogReport:
    accepted, refused = edge_reasons(traffic.posts, batch_max)
    stream = list(accepted)
    for position, record in reversed(traffic.direct):
        stream.insert(position, record)
    output: JobOutput = run_job(stream, table_env=table_env, workdir=workdir / "job")
    clean = output.rows["clean_events"]
    written = write_lake(output.rows, workdir / "lake")
    lake_rows, queries = query_lake(workdir / "lake")
    documents = [json.dumps(row) for row in clean]
    problems = [p for doc in clean for p in mapping_problems(doc, schema.opensearch_mapping())]
    warehouse = run_warehouse(documents)
    lake_ids = sorted((r["event_id"], r["status"], r["late"], r["is_bot"]) for r in clean)
    view_ids = sorted((r["event_id"], r["status"], r["late"], r["is_bot"]) for r in warehouse.rows)
    windows = Counter(r["window_kind"] for r in output.rows["click_windows"])
    return StreamingLogReport(
        posted=sum(len(p) for p in traffic.posts), refused_at_edge=refused, accepted=len(accepted),
        direct=len(traffic.direct), dead_letters=Counter(r["reason"] for r in output.rows["dead_letters"]),
        duplicates=len(stream) - len(clean) - len(output.rows["dead_letters"]), clean=len(clean),
        late=sum(r["late"] for r in clean), bots=sum(r["is_bot"] for r in clean),
        late_humans=sum(r["late"] and not r["is_bot"] for r in clean),
        alerts=len(output.rows["server_error_alerts"]),
        server_errors=sum(500 <= r["status"] <= 599 for r in clean),
        windows={kind: windows[kind] for kind in schema.WINDOW_KINDS},
        page_views_counted=sum(r["page_views"] for r in output.windows("page_views_1m")),
        session_page_views=sum(r["page_views"] for r in output.windows("visitor_session")),
        hop_memberships=sum(r["request_count"] for r in output.windows("error_rate_5m")),
        lake_rows=lake_rows, lake_partitions={t: len(days) for t, days in written.items()},
        search_documents=len(documents), search_problems=problems, warehouse_rows=len(warehouse.rows),
        warehouse_matches_lake=lake_ids == view_ids, queries=queries + warehouse.queries, expected=traffic,
        seconds=output.seconds)
