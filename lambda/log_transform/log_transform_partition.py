"""The dynamic-partitioning key of a parsed log line: `dt`, the UTC day of the line's own time.

Firehose writes each Ok record under `access_logs/dt=<key>/` (the delivery stream's prefix
uses `!{partitionKeyFromLambda:dt}`), so a query on a date finds the lines logged on that
date, whenever they arrived. The table's partition projection covers `first_day` to
tomorrow, so a day is usable when it lies in that range as seen from the record's arrival:

    first_day <= day <= arrival day + 1     dt = day ("2024-05-01")
    otherwise                               dt = UNDATED: a clock far off (a device reset to
                                            1970, a year typed wrong), kept in its own
                                            partition and table instead of a day no query
                                            would look at

Pure; shared by the fast path and the full parser, so both give every line the same key.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

UNDATED = "undated"
DEFAULT_FIRST_DAY = "2020-01-01"
_DAY_MS = 86_400_000


class Partitioner:
    """Keys for one batch: the arrival days' upper bounds and each key's metadata are cached
    (a batch spans a few minutes of arrivals and a few days of lines)."""

    __slots__ = ("first_day", "_now_ms", "_last_day", "_metadata")

    def __init__(self, first_day: str = DEFAULT_FIRST_DAY, *, now_ms: int | None = None) -> None:
        datetime.strptime(first_day, "%Y-%m-%d")      # a bad value fails here, not per record
        self.first_day = first_day
        self._now_ms = now_ms                         # for a record without an arrival time
        self._last_day: dict[int, str] = {}           # arrival day number -> the last usable day
        self._metadata: dict[str, dict] = {}

    def key(self, day: str, arrival_ms: int | None) -> str:
        """`day` ("YYYY-MM-DD", the line's UTC date) or UNDATED."""
        if arrival_ms is None:
            arrival_ms = self._now_ms if self._now_ms is not None else int(time.time() * 1000)
        number = arrival_ms // _DAY_MS
        last = self._last_day.get(number)
        if last is None:
            last = self._last_day[number] = datetime.fromtimestamp((number + 1) * _DAY_MS / 1000, UTC).strftime(
                "%Y-%m-%d")
        return day if self.first_day <= day <= last else UNDATED

    def metadata(self, key: str) -> dict:
        """The response entry's `metadata` for `key` (one shared dict per key)."""
        found = self._metadata.get(key)
        if found is None:
            found = self._metadata[key] = {"partitionKeys": {"dt": key}}
        return found
