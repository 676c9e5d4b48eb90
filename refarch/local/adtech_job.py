"""The ad-tech Flink SQL job (jobs/flink/adtech), run locally on PyFlink 1.20 and checked.

`run_adtech_job(lines)` runs the deployed job over the lines (one raw record each, as an ad
server puts them on the stream) with its tables derived from the cloud DDL
(refarch/local/flink_sql.py), and reads back both sinks: the CTR windows and the dead letters. The run checks itself against `expected_output`, a small
model of the job in this module, and raises `AdTechJobMismatch` when Flink's rows differ.

The model covers the records a well-behaved stream carries: each record is either at most
the watermark bound out of order (it then lands in every window it belongs to) or at least
the attribution window behind the watermark (a dead letter, `late`). A record in between
would meet Flink's join-state clean-up, which the model does not replay, so the model
refuses such input instead of guessing.
"""

from __future__ import annotations

import calendar
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# streaming_table_env: imported from here by refarch/local/adtech.py
from refarch.local.flink_sql import job_tables, run_local_job, streaming_table_env, watermark_bound_seconds  # noqa: F401

JOB = "adtech"
SLIDE, SIZE = timedelta(minutes=1), timedelta(minutes=5)   # as in queries/02_placement_ctr.sql
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")     # as in views/01_ad_events_checked.sql
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
FIELDS = ("event_type", "impression_id", "placement_id", "ad_id", "event_time")
ID_FIELDS = ("impression_id", "placement_id", "ad_id")
SINKS = ("placement_ctr", "ad_dead_letters")


class AdTechJobMismatch(AssertionError):
    """What Flink wrote differs from the model, or the records do not add up."""


class OutsideTheModel(ValueError):
    """The input holds a record the model does not cover (see the module docstring)."""


# --- the model -----------------------------------------------------------------------

def reason_for(payload: str, watermark: datetime | None, attribution: timedelta) -> tuple[str | None, datetime | None]:
    """(reason or None, parsed event time) for one raw record, as views/01 decides."""
    try:
        document = json.loads(payload)
    except ValueError:
        return "invalid_json", None
    if not isinstance(document, dict):
        return "invalid_json", None
    values = {name: _json_value(document.get(name)) for name in FIELDS}
    parsed = _parse_time(values["event_time"])
    if values["event_type"] is None:
        return "missing:event_type", parsed
    if values["event_type"] not in ("impression", "click"):
        return "invalid:event_type", parsed
    for name in ("impression_id", "placement_id", "ad_id", "event_time"):
        if values[name] is None:
            return f"missing:{name}", parsed
    for name in ID_FIELDS:
        if not ID.match(values[name]):
            return f"invalid:{name}", parsed
    if parsed is None:
        return "invalid:event_time", None
    if watermark is not None and parsed <= watermark - attribution:
        return "late", parsed
    return None, parsed


def _json_value(value: Any) -> str | None:
    """JSON_VALUE's answer for a scalar field: its text; None for absent, null, objects, arrays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _parse_time(value: str | None) -> datetime | None:
    """As Flink's TO_TIMESTAMP reads it: a day past the month's end (2024-02-30) is resolved
    to the month's last day, as java.time's SMART resolver does; other bad fields give None."""
    if value is None or not ISO_UTC.match(value):
        return None
    text = value.removesuffix("Z")
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:10])
    if 1 <= month <= 12 and 29 <= day <= 31:
        day = min(day, calendar.monthrange(year, month)[1])
        text = f"{text[:8]}{day:02d}{text[10:]}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


def hop_windows(moment: datetime) -> list[datetime]:
    """Starts of the 5-minute windows, sliding by 1 minute, that hold `moment`."""
    last = moment.replace(second=0, microsecond=0)
    return [last - SLIDE * n for n in range(SIZE // SLIDE - 1, -1, -1)]


@dataclass(frozen=True)
class Expected:
    ctr_rows: list[dict]
    dead_letters: list[tuple[str, str]]          # (reason, payload)
    counts: dict[str, int]                       # how every record was accounted for


def expected_output(lines: Sequence[str], *, attribution_minutes: int, bound_s: int = 10) -> Expected:
    """What the job must write for `lines` in this arrival order."""
    attribution, bound = timedelta(minutes=attribution_minutes), timedelta(seconds=bound_s)
    newest: datetime | None = None
    dead: list[tuple[str, str]] = []
    impressions: dict[str, tuple[str, str, datetime]] = {}   # impression id -> (placement, ad, time)
    clicks: dict[str, tuple[str, str, datetime]] = {}
    counts: Counter[str] = Counter()
    for payload in lines:
        watermark = None if newest is None else newest - bound
        reason, parsed = reason_for(payload, watermark, attribution)
        if parsed is not None:   # every usable event time moves the watermark, valid or not
            newest = parsed if newest is None else max(newest, parsed)
        if reason is not None:
            dead.append((reason, payload))
            counts["dead_letters"] += 1
            continue
        document = json.loads(payload)
        kept = impressions if document["event_type"] == "impression" else clicks
        if document["impression_id"] in kept:   # de-duplication drops it, however late
            counts[f"{document['event_type']}_duplicates"] += 1
            continue
        if watermark is not None and parsed < watermark:
            raise OutsideTheModel(f"record behind the watermark {watermark:%H:%M:%S} by less than the "
                                  f"attribution window: {payload[:80]}")
        kept[document["impression_id"]] = (document["placement_id"], document["ad_id"], parsed)
    windows: Counter[tuple[datetime, str, str, str]] = Counter()
    for placement, ad, moment in impressions.values():
        for start in hop_windows(moment):
            windows[(start, placement, ad, "impressions")] += 1
    for impression_id, (placement, ad, moment) in clicks.items():
        shown = impressions.get(impression_id)
        if shown is not None and moment - attribution <= shown[2] <= moment:
            placement, ad, kind = shown[0], shown[1], "clicks"
        else:
            kind = "unattributed_clicks"
        counts[kind] += 1
        for start in hop_windows(moment):
            windows[(start, placement, ad, kind)] += 1
    counts["impressions"] = len(impressions)
    keys = sorted({(start, placement, ad) for start, placement, ad, _ in windows})
    rows = []
    for start, placement, ad in keys:
        row = {"window_start": start, "window_end": start + SIZE, "placement_id": placement, "ad_id": ad}
        row |= {kind: windows[(start, placement, ad, kind)] for kind in ("impressions", "clicks", "unattributed_clicks")}
        row["ctr"] = row["clicks"] / row["impressions"] if row["impressions"] else None
        rows.append(row)
    return Expected(rows, sorted(dead), dict(counts))


# --- the run ------------------------------------------------------------------------

@dataclass(frozen=True)
class AdTechJobRun:
    records_in: int
    ctr_rows: list[dict]                         # what Flink wrote, sorted by window, placement, ad
    dead_letters: list[dict]                     # what Flink wrote: reason, payload, event_time
    expected: Expected = field(repr=False)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise AdTechJobMismatch("adtech job run does not add up: " + "; ".join(problems))

    @property
    def counts(self) -> dict[str, int]:
        return self.expected.counts

    @property
    def dead_letter_reasons(self) -> dict[str, int]:
        return dict(sorted(Counter(d["reason"] for d in self.dead_letters).items()))

    def problems(self) -> list[str]:
        found = []
        if self.ctr_rows != self.expected.ctr_rows:
            missing = [r for r in self.expected.ctr_rows if r not in self.ctr_rows]
            extra = [r for r in self.ctr_rows if r not in self.expected.ctr_rows]
            found.append(f"placement_ctr: {len(self.ctr_rows)} rows, model {len(self.expected.ctr_rows)}; "
                         f"missing {missing[:2]}, unexpected {extra[:2]}")
        written = sorted((d["reason"], d["payload"]) for d in self.dead_letters)
        if written != self.expected.dead_letters:
            found.append(f"dead letters {Counter(r for r, _ in written)} != model "
                         f"{Counter(r for r, _ in self.expected.dead_letters)}")
        per_window = SIZE // SLIDE   # every counted record is in exactly this many windows
        for kind in ("impressions", "clicks", "unattributed_clicks"):
            total = sum(r[kind] for r in self.ctr_rows)
            if total != per_window * self.counts.get(kind, 0):
                found.append(f"{kind}: {total} window memberships for {self.counts.get(kind, 0)} records")
        accounted = sum(self.counts.get(k, 0) for k in (
            "dead_letters", "impressions", "impression_duplicates", "clicks", "unattributed_clicks",
            "click_duplicates"))
        if accounted != self.records_in:
            found.append(f"{self.records_in} records in, {accounted} accounted for")
        return found


def run_adtech_job(lines: Sequence[str | dict], *, attribution_minutes: int, table_env: Any = None,
                   workdir: Path | None = None) -> AdTechJobRun:
    """Run the job on `lines` (raw records, or events to serialize) and check what it wrote.

    table_env: a streaming TableEnvironment to reuse (its JVM is what costs seconds); the run
    creates its tables in a database of its own and drops it afterwards.
    """
    if not 1 <= attribution_minutes <= 1440:
        raise ValueError(f"attribution_minutes={attribution_minutes!r}: allowed 1 to 1440")
    raw = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    # The model first: input it does not cover is refused before the JVM is started.
    bound = watermark_bound_seconds(t.table.statement for t in job_tables(JOB))
    expected = expected_output(raw, attribution_minutes=attribution_minutes, bound_s=bound)
    run = run_local_job(JOB, raw, properties={"attribution.minutes": str(attribution_minutes)},
                        table_env=table_env, workdir=workdir)
    ctr = sorted((_typed(r) for r in run.rows["placement_ctr"]),
                 key=lambda r: (r["window_start"], r["placement_id"], r["ad_id"]))
    return AdTechJobRun(records_in=len(raw), ctr_rows=ctr, dead_letters=run.rows["ad_dead_letters"],
                        expected=expected, seconds=run.seconds)


def _typed(row: dict) -> dict:
    """A window row with its bounds as UTC datetimes (Flink writes them in UTC, without a zone)."""
    return row | {k: datetime.fromisoformat(row[k]).replace(tzinfo=UTC) for k in ("window_start", "window_end")}


def windows_summary(rows: Iterable[dict]) -> str:
    rows = list(rows)
    return (f"{len(rows)} placement-ad windows ({sum(r['impressions'] for r in rows)} impressions, "
            f"{sum(r['clicks'] for r in rows)} attributed and {sum(r['unattributed_clicks'] for r in rows)} "
            "unattributed clicks counted, each in 5 windows)")
