"""Seeded IoT telemetry as devices send it through the topic rule: (partition key, data) pairs.

Besides the valid readings (one per device and minute, timestamps as ISO-8601 with a zone or as
epoch ms) it injects, each counted in `Injected`: byte-identical re-sends (duplicates), re-sends
of a reading's key with another humidity (conflicts), readings held back and sent after newer
ones (late), malformed messages of every reason the writer quarantines for (including readings
sent in another device's name) and threshold breaches (alerts under the given rules).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

Rule = tuple[str, str, float]   # (metric, operator, threshold), as in the iot_alert_rules setting
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
START_MS = 1_714_521_600_000   # 2024-05-01T00:00:00Z: fixed, so a seeded run is reproducible

# Rates of the generator's other injections (duplicate, conflict and malformed rates are arguments).
LATE_RATE = 0.03          # a reading held back and sent after newer ones of its device
HOT_RATE = 0.03           # temperature above 80 (one alert)
LOW_BATTERY_RATE = 0.03   # battery below 10 (one alert)


def _json(document: dict) -> bytes:
    return json.dumps(document).encode()


# How a device garbles a message, and the reason code the writer must quarantine it with.
# Each takes the device's reading and another device's id, and gives the data the device
# sends on its own topic (so under its own id as the partition key).
MALFORMED: dict[str, Callable[[dict, str], bytes]] = {
    "invalid_json": lambda doc, other: _json(doc)[: len(_json(doc)) // 2],   # cut off mid-message
    "invalid_utf8": lambda doc, other: b"\xff\xfe" + _json(doc),
    "schema:temperature_out_of_range": lambda doc, other: _json(doc | {"temperature": 999.0}),
    "schema:humidity_out_of_range": lambda doc, other: _json(doc | {"humidity": 140}),
    "schema:ts_missing": lambda doc, other: _json({k: v for k, v in doc.items() if k != "ts"}),
    "schema:ts_invalid": lambda doc, other: _json(doc | {"ts": "2024-05-01T12:00:00"}),   # no time zone
    "schema:device_id_mismatch": lambda doc, other: _json(doc | {"device_id": other}),   # in another's name
}


@dataclass(frozen=True)
class Injected:
    """What the generator put into the stream, by kind: the truth a run is compared with."""
    readings: int                        # distinct valid readings (one table item each)
    duplicates: int                      # byte-identical re-sends of a reading
    conflicts: int                       # re-sends of a reading's key with another value
    malformed_by_reason: dict[str, int]
    late_readings: int                   # readings sent after newer ones of the same device
    alerts: int                          # rule breaches among the distinct readings
    devices: int

    @property
    def records(self) -> int:
        return self.readings + self.duplicates + self.conflicts + sum(self.malformed_by_reason.values())


@dataclass(frozen=True)
class Telemetry:
    records: list[tuple[str, bytes]]     # (partition key = sending device's id, data), in send order
    injected: Injected


def generate_telemetry(devices: int, readings_per_device: int, *, seed: int = 7,
                       duplicate_rate: float = 0.05, malformed_rate: float = 0.02,
                       conflict_rate: float = 0.02, rules: Sequence[Rule] = ()) -> Telemetry:
    """`conflict_rate`: re-sends of a reading's device and ts with another humidity."""
    rng = random.Random(seed)
    conflict_rng = random.Random(f"{seed}:conflicts")   # its own stream: the other draws stay as they were
    regular: list[tuple[str, bytes]] = []
    held_back: list[tuple[str, bytes]] = []   # late readings, sent after all regular ones
    replays: list[tuple[str, bytes]] = []     # duplicates re-sent at the end (a reconnect)
    duplicates, conflicts, late, alerts = 0, 0, 0, 0
    malformed: Counter[str] = Counter()
    names = [f"sensor-{n:04d}" for n in range(devices)]
    # Whose name a device sends in, when it does: the next device's (a lone device's: the
    # name a second device would get).
    others = {name: f"sensor-{(n + 1) % max(devices, 2):04d}" for n, name in enumerate(names)}
    offsets = {name: rng.randrange(60_000) for name in names}   # devices do not report in lockstep
    for minute in range(readings_per_device):
        for name in names:
            document = _reading(rng, name, START_MS + minute * 60_000 + offsets[name])
            alerts += breaches(document, rules)
            record = (name, _json(document))
            if rng.random() < LATE_RATE and minute < readings_per_device - 1:
                held_back.append(record)
                late += 1
            else:
                regular.append(record)
            if rng.random() < duplicate_rate:
                (regular if rng.random() < 0.5 else replays).append(record)
                duplicates += 1
            if conflict_rng.random() < conflict_rate:   # sent last, after the reading itself is stored
                # Humidity only: the alert rules (temperature, battery) judge both versions alike.
                humidity = document["humidity"] + (0.5 if document["humidity"] < 99 else -0.5)
                replays.append((name, _json(document | {"humidity": humidity})))
                conflicts += 1
            if rng.random() < malformed_rate:
                reason = rng.choice(sorted(MALFORMED))
                regular.append((name, MALFORMED[reason](document, others[name])))
                malformed[reason] += 1
    injected = Injected(devices * readings_per_device, duplicates, conflicts, dict(sorted(malformed.items())),
                        late, alerts, devices)
    return Telemetry(regular + held_back + replays, injected)


def breaches(document: dict, rules: Sequence[Rule]) -> int:
    """How many rules a reading breaches (one alert each)."""
    return sum(1 for metric, op, threshold in rules
               if metric in document and OPERATORS[op](document[metric], threshold))


def _reading(rng: random.Random, device: str, epoch_ms: int) -> dict:
    """One reading, its ts as ISO-8601 with a zone or as epoch ms; some hot, some low on battery."""
    hot, low = rng.random() < HOT_RATE, rng.random() < LOW_BATTERY_RATE
    document: dict[str, Any] = {
        "device_id": device, "ts": _ts(rng, epoch_ms),
        "temperature": round(rng.uniform(81, 99) if hot else rng.uniform(15, 35), 2),
        "humidity": round(rng.uniform(20, 80), 1)}
    if low:
        document["battery"] = rng.randint(1, 9)
    elif rng.random() < 0.8:   # some devices have no battery gauge
        document["battery"] = rng.randint(20, 100)
    return document


def _ts(rng: random.Random, epoch_ms: int) -> str | int:
    if rng.random() < 0.5:
        return epoch_ms
    zone = timezone(timedelta(hours=rng.choice([0, 2, -5])))
    return datetime.fromtimestamp(epoch_ms / 1000, zone).isoformat(timespec="milliseconds")
