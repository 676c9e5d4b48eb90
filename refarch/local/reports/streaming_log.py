"""The StreamingLogAnalytics run's report: every event posted is refused at the edge or put on
the stream; every record on the stream is a dead letter, a duplicate or a clean event; the
windows count each on-time human event as often as they should; and each sink (lake, search
index, warehouse) holds every clean event. Checked against what the generator sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from refarch.local.generators.clickstream import Traffic
from refarch.local.engines.duckdb_sql import QueryResult

HOP_WINDOWS = 5   # a record counts in 5 sliding windows (5 minutes, every minute)


class StreamingLogMismatch(AssertionError):
    """The counts of the run do not add up, or a sink would refuse what it receives."""


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
