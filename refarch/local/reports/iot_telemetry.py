"""The IotTelemetry run's report: every record sent is written, skipped as a duplicate,
quarantined as a conflict or by reason, or failed, and the writer's own metrics, the queues and
the table agree with those counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from refarch.local.generators.telemetry import Injected


class ReportMismatch(AssertionError):
    """The run's counts do not add up: a record went missing or was counted twice."""


@dataclass(frozen=True)
class IotRunReport:
    sent: int
    written: int
    duplicates_skipped: int
    conflicts: int                  # same device and ts as a stored reading, other values: quarantined
    quarantined_by_reason: dict[str, int]
    alerts_published: int
    failed: int
    items_in_table: int
    latest_state_items: int
    stale_latest_states: int        # latest-state items not matching the newest stored reading
    writer_quarantined: int         # what the writer says it quarantined (cross-check)
    writer_conflicts: int           # what the writer says conflicted (cross-check)
    writer_alerts: int              # what the writer says it published (cross-check)
    invocations: int
    redeliveries: int
    injected: Injected | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ReportMismatch("IotTelemetry run does not add up: " + "; ".join(problems))

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    def problems(self) -> list[str]:
        found = []
        accounted = self.written + self.duplicates_skipped + self.conflicts + self.quarantined + self.failed
        if self.sent != accounted:
            found.append(f"sent {self.sent} != written {self.written} + duplicates {self.duplicates_skipped}"
                         f" + conflicts {self.conflicts} + quarantined {self.quarantined}"
                         f" + failed {self.failed} = {accounted}")
        if self.items_in_table != self.written + self.latest_state_items:
            found.append(f"items in table {self.items_in_table} != written {self.written}"
                         f" + latest-state items {self.latest_state_items}")
        if self.writer_quarantined != self.quarantined:
            found.append(f"writer quarantined {self.writer_quarantined}"
                         f" but the queue holds {self.quarantined}")
        if self.writer_conflicts != self.conflicts:
            found.append(f"writer counted {self.writer_conflicts} conflicts"
                         f" but the queue holds {self.conflicts}")
        if self.writer_alerts != self.alerts_published:
            found.append(f"writer published {self.writer_alerts} alerts"
                         f" but the subscription received {self.alerts_published}")
        if self.stale_latest_states:
            found.append(f"{self.stale_latest_states} latest-state items behind the newest reading")
        negative = [name for name in ("written", "duplicates_skipped", "failed") if getattr(self, name) < 0]
        if negative:
            found.append(f"negative counts: {', '.join(negative)}")
        return found

    def rows(self) -> list[tuple[str, str]]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.quarantined_by_reason.items())
        return [
            ("records sent to Kinesis", str(self.sent)),
            ("readings written", str(self.written)),
            ("duplicates skipped", str(self.duplicates_skipped)),
            ("conflicts (other values, quarantined)", str(self.conflicts)),
            ("quarantined", f"{self.quarantined}" + (f" ({reasons})" if reasons else "")),
            ("failed (to the on-failure destination)", str(self.failed)),
            ("alerts published", str(self.alerts_published)),
            ("items in table", f"{self.items_in_table} ({self.written} readings"
                               f" + {self.latest_state_items} latest states)"),
            ("writer invocations", f"{self.invocations} ({self.redeliveries} redeliveries)"),
        ]

    def summary_lines(self) -> list[str]:
        width = max(len(label) for label, _ in self.rows())
        return [f"{label:<{width}}  {value}" for label, value in self.rows()]
