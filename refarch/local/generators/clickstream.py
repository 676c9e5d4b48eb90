"""Seeded clickstream traffic as websites (and one server-side producer) send it.

What a run gets, each kind counted so the report can check every record's fate:
  valid       page views of visits over ~100 minutes, posted in batches by the sites' trackers
  bots        page views whose user agent announces a crawler (kept, flagged, not in the metrics)
  duplicates  a batch the tracker re-sent (it got no answer): every event in it a second time
  out of order  neighbours swapped by at most 5 s, inside the job's 10 s watermark bound
  late        page views posted 45+ minutes after newer ones (behind the watermark on arrival)
  edge        events the collection API's model refuses (400), each posted in a batch of its own
  no calendar time  an event time that matches the model's pattern but is no day (2024-02-30):
              the API lets it through, the job rejects it (invalid:event_time)
  direct      records a server-side producer puts on the stream itself, bypassing the API:
              some valid, some malformed (the job's dead letters, with reasons)
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
PAGES = ("/", "/search", "/products", "/products/42", "/cart", "/checkout")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
OUT_OF_ORDER_MS, LATE_BEHIND = 5_000, timedelta(minutes=45)
# An event the API's model refuses, and the part of the validator's reason that says why.
EDGE_MALFORMED = (
    ("missing visitor_id", lambda e: {k: v for k, v in e.items() if k != "visitor_id"}, "'visitor_id' is a required property"),
    ("status out of range", lambda e: {**e, "status": 700}, "700 is greater than the maximum of 599"),
    ("page not a path", lambda e: {**e, "page": "home page"}, "does not match"),
    ("unknown field", lambda e: {**e, "coupon": "FREE"}, "Additional properties are not allowed"),
    ("status as text", lambda e: {**e, "status": "200"}, "'200' is not of type 'integer'"),
)
# What a server-side producer may put on the stream, and the job's reason for it.
DIRECT_MALFORMED = (
    ("not JSON", lambda e: "GET /products HTTP/1.1", "invalid_json"),
    ("no event_id", lambda e: json.dumps({k: v for k, v in e.items() if k != "event_id"}), "missing:event_id"),
    ("status not a number", lambda e: json.dumps({**e, "status": "ok"}), "invalid:status"),
    ("page not a path", lambda e: json.dumps({**e, "page": "products"}), "invalid:page"),
    ("local time", lambda e: json.dumps({**e, "event_time": e["event_time"].replace("Z", "+02:00")}),
     "invalid:event_time"),
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Traffic:
    posts: list[list[dict]]            # request bodies' event lists, in the order they are posted
    direct: list[tuple[int, str]]      # (position in the stream, raw record) put by a server-side producer
    expected_edge: Counter = field(default_factory=Counter)         # edge reason text -> events
    expected_dead: Counter = field(default_factory=Counter)         # job reason -> records
    duplicates: int = 0
    late: int = 0                      # distinct late events
    bots: int = 0                      # distinct bot events (valid)


def generate_traffic(size: int, seed: int, *, batch_size: int = 20) -> Traffic:
    """About `size` events, posted in batches of up to `batch_size`."""
    if not 40 <= size <= 200_000:
        raise ValueError(f"size={size}: allowed 40 to 200000")
    rng = random.Random(seed)
    visitors = [f"visitor-{n:04d}" for n in range(max(4, size // 8))]
    events: list[tuple[datetime, dict]] = []
    serial = 0

    def event(visitor: str, moment: datetime, **fields) -> dict:
        nonlocal serial
        serial += 1
        roll = rng.random()
        status = rng.choice([500, 502, 503]) if roll < 0.08 else 404 if roll < 0.13 else 200
        base = {"event_id": f"evt-{seed}-{serial:06d}", "visitor_id": visitor, "session_hint": f"s-{visitor[-4:]}",
                "page": rng.choice(PAGES), "referrer": "https://www.example.com/", "user_agent": BROWSER,
                "status": status, "load_time_ms": rng.randrange(80, 4000), "event_time": iso(moment)}
        return {**base, **fields}

    starts = [timedelta(0), timedelta(minutes=100)]   # the first and last visits fix the span
    while len(events) < size:
        start = starts.pop() if starts else timedelta(milliseconds=rng.randrange(100 * 60_000))
        visitor, moment = rng.choice(visitors), START + start
        bot = rng.random() < 0.05
        for _ in range(rng.randint(1, 6)):
            events.append((moment, event(visitor, moment, **({"user_agent": BOT} if bot else {}))))
            moment += timedelta(milliseconds=rng.randrange(6_000, 240_000))
    events.sort(key=lambda pair: pair[0])
    ordered = _swap_neighbours(rng, events)
    traffic = Traffic(posts=[], direct=[])
    traffic.bots = sum(1 for e in ordered if e["user_agent"] == BOT)

    # Two late page views: early event times, posted after events 45+ minutes newer.
    first = events[0][0]
    for n in range(2):
        late = event(rng.choice(visitors), first + timedelta(seconds=20 + 30 * n), status=503)
        position = next(i for i, e in enumerate(ordered) if _time(e) >= first + LATE_BEHIND + timedelta(minutes=n))
        ordered.insert(position + 1, late)
        traffic.late += 1
    # An event time with no calendar day: the API's pattern passes it, the job does not.
    no_such_day = event(visitors[1], first, event_time="2024-02-30T10:00:00.000Z")
    ordered.insert(len(ordered) // 3, no_such_day)
    traffic.expected_dead["invalid:event_time"] += 1

    for offset in range(0, len(ordered), batch_size):
        traffic.posts.append(ordered[offset:offset + batch_size])
    # A tracker re-sends a batch it got no answer for.
    resent = rng.randrange(1, len(traffic.posts) - 1)
    traffic.posts.insert(resent + 1, list(traffic.posts[resent]))
    # The job de-duplicates valid events; a copy of a record it rejects is a dead letter again.
    rejected_copies = sum(e is no_such_day for e in traffic.posts[resent])
    traffic.duplicates = len(traffic.posts[resent]) - rejected_copies
    traffic.expected_dead["invalid:event_time"] += rejected_copies
    for name, broken, reason in EDGE_MALFORMED:
        traffic.posts.insert(rng.randrange(len(traffic.posts)), [broken(event(visitors[2], first))])
        traffic.expected_edge[reason] += 1
    # The producer stamps its records with the time it sends them: about that of the events
    # around them on the stream (a record far ahead would move the watermark for everyone).
    stream = [e for post in traffic.posts for e in post]
    for name, broken, reason in DIRECT_MALFORMED:
        position = rng.randrange(1, len(stream))
        around = max(_time(e) for e in stream[:position] if e.get("event_time", "").endswith("Z") and
                     e["event_time"][5:7] != "02")
        traffic.direct.append((position, broken(event(visitors[3], around))))
        traffic.expected_dead[reason] += 1
    traffic.direct.sort(key=lambda pair: pair[0])
    return traffic


def _time(event: dict) -> datetime:
    return datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))


def _swap_neighbours(rng: random.Random, events: list[tuple[datetime, dict]]) -> list[dict]:
    """Time-ordered events with some neighbours swapped (the newer first), at most 5 s apart."""
    out = [e for _, e in events]
    i = 1
    while i < len(out):
        gap = (_time(out[i]) - _time(out[i - 1])).total_seconds() * 1000
        if 0 < gap <= OUT_OF_ORDER_MS and rng.random() < 0.5:
            out[i - 1], out[i] = out[i], out[i - 1]
            i += 2
        else:
            i += 1
    return out
