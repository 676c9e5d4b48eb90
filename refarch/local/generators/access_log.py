"""Seeded Apache access-log lines: common and combined formats, IPv6 clients, escaped
quotes, `-` sizes, several status codes and a share of malformed lines.

A line is written at one time and reaches Firehose at another: most arrive at once, some
hours late (a server that ships its log in batches), and a few come from a server whose
clock is far off (years behind, or days ahead), so a day's lines arrive on the next day
and some carry a date no partition of the table covers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    r"Mozilla/5.0 (compatible; \"Quoted\" Crawler/2.1)",
    "curl/8.8.0",
    "-",
)
REFERRERS = ("-", "https://shop.example.com/", r"https://example.org/?q=\"blue shoes\"")
PATHS = ("/", "/cart", "/products/{n}", "/api/orders?id={n}&page={p}", "/static/app.{n:x}.js")
# Weighted the way a healthy site looks: mostly 2xx/3xx, some 4xx, a little 5xx.
STATUSES = (200,) * 60 + (304,) * 10 + (301,) * 5 + (404,) * 12 + (400,) * 3 + (500,) * 6 + (503,) * 4
ZONES = ("-0700", "+0000", "+0530")
MALFORMED = (b"", b"not an access log line", b"127.0.0.1 - - [31/Feb/2024:99:00:00 +0000] \"GET /\" 200 1",
             b"\xff\xfe binary noise", b"10.0.0.1 - - [01/Jun/2024:10:00:00 +0000] \"GET / HTTP/1.1\" abc 12")


LATE_RATE = 0.2           # shipped up to LATE_HOURS after it was written
LATE_HOURS = 6
BAD_CLOCK_RATE = 0.01     # written by a server whose clock is years behind or days ahead


@dataclass(frozen=True)
class GeneratedLine:
    data: bytes
    arrival: datetime      # when the line reached Firehose (the source backup's dt= partition)
    malformed: bool
    status: int | None
    written: datetime | None = None   # the time in the line (its dt= partition); None if malformed


def generate_access_log(lines: int, *, seed: int, days: int = 3, malformed_rate: float = 0.03,
                        start: datetime = datetime(2024, 6, 1, tzinfo=timezone.utc)) -> list[GeneratedLine]:
    """`lines` lines spread evenly over `days` days, arriving as they are written."""
    if lines < 0 or days < 1 or not 0 <= malformed_rate <= 1:
        raise ValueError("generate_access_log: lines >= 0, days >= 1, 0 <= malformed_rate <= 1")
    rng = random.Random(seed)
    clocks = random.Random(f"{seed}:clocks")   # its own stream: the lines' other draws stay as they were
    step = timedelta(days=days) / max(lines, 1)
    generated = []
    for index in range(lines):
        arrival = start + step * index
        if rng.random() < malformed_rate:
            generated.append(GeneratedLine(rng.choice(MALFORMED), arrival, True, None))
            continue
        status = rng.choice(STATUSES)
        written = _written(clocks, arrival)
        generated.append(GeneratedLine(_line(rng, written, status).encode(), arrival, False, status, written))
    return generated


def _written(rng: random.Random, arrival: datetime) -> datetime:
    draw = rng.random()
    if draw < BAD_CLOCK_RATE / 2:
        return arrival - timedelta(days=365 * 6)            # a clock years behind
    if draw < BAD_CLOCK_RATE:
        return arrival + timedelta(days=3)                  # a clock days ahead
    if draw < BAD_CLOCK_RATE + LATE_RATE:
        return arrival - timedelta(seconds=rng.randrange(LATE_HOURS * 3600))
    return arrival


def _line(rng: random.Random, when: datetime, status: int) -> str:
    client = (f"2001:db8::{rng.randrange(65536):x}" if rng.random() < 0.15
              else ".".join(str(rng.randrange(1, 255)) for _ in range(4)))
    zone = rng.choice(ZONES)
    sign = 1 if zone[0] == "+" else -1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
    local = (when + offset).strftime("%d/%b/%Y:%H:%M:%S")
    path = rng.choice(PATHS).format(n=rng.randrange(10_000), p=rng.randrange(1, 9))
    method = "GET" if rng.random() < 0.8 else rng.choice(("POST", "HEAD", "PUT"))
    size = "-" if status == 304 or rng.random() < 0.02 else str(rng.randrange(120, 60_000))
    common = f'{client} - - [{local} {zone}] "{method} {path} HTTP/1.1" {status} {size}'
    if rng.random() < 0.3:
        return common
    return f'{common} "{rng.choice(REFERRERS)}" "{rng.choice(AGENTS)}"'
