"""One CTR window as the ad-tech Flink job writes it to the CTR stream, parsed and checked.

    {"window_start": "2024-05-01T12:00:00", "window_end": "2024-05-01T12:05:00",
     "placement_id": "home-top", "ad_id": "ad-b", "impressions": 1840, "clicks": 131,
     "unattributed_clicks": 4, "ctr": 0.0712}

Timestamps are UTC (the job's session time zone), written without a zone or with a Z.
A record that is not such a window raises InvalidWindow with a reason code; the updater
quarantines it instead of retrying it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")   # the job's and the placement API's rule
COUNTS = ("impressions", "clicks", "unattributed_clicks")
MAX_COUNT = 10**12


class InvalidWindow(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Window:
    placement_id: str
    ad_id: str
    window_start_ms: int
    window_end_ms: int
    impressions: int
    clicks: int
    unattributed_clicks: int


def decode_window(data_b64: str) -> Window:
    """The window in a Kinesis record's base64 data, or InvalidWindow."""
    try:
        text = base64.b64decode(data_b64, validate=True).decode("utf-8")
        document = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidWindow("invalid_json") from None
    if not isinstance(document, dict):
        raise InvalidWindow("invalid_json")
    return parse_window(document)


def parse_window(document: dict[str, Any]) -> Window:
    for name in ("window_start", "window_end", "placement_id", "ad_id", *COUNTS):
        if document.get(name) is None:
            raise InvalidWindow(f"missing:{name}")
    for name in ("placement_id", "ad_id"):
        if not isinstance(document[name], str) or not ID.match(document[name]):
            raise InvalidWindow(f"invalid:{name}")
    counts = {}
    for name in COUNTS:
        value = document[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
            raise InvalidWindow(f"invalid:{name}")
        counts[name] = value
    start, end = _epoch_ms(document["window_start"], "window_start"), _epoch_ms(document["window_end"], "window_end")
    if end <= start:
        raise InvalidWindow("invalid:window_end")
    return Window(document["placement_id"], document["ad_id"], start, end, **counts)


def _epoch_ms(value: Any, name: str) -> int:
    if not isinstance(value, str):
        raise InvalidWindow(f"invalid:{name}")
    try:
        moment = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise InvalidWindow(f"invalid:{name}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with a Z (how the placement API reports a window)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
