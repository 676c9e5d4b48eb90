"""The telemetry reading a device publishes, and the alert rules evaluated on it.

Pure functions only: `decode_reading` turns a Kinesis record's base64 data into a
`Reading` or raises `InvalidRecord` with a reason code that the quarantine queue
carries (`invalid_base64`, `invalid_utf8`, `invalid_json`, `schema:<field>_<problem>`).
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Metric:
    name: str
    low: float
    high: float
    required: bool


# The declared schema: two key fields plus these metrics; any other field is rejected,
# so a firmware change shows up in the quarantine instead of being dropped silently.
METRICS = (
    Metric("temperature", low=-40.0, high=125.0, required=True),   # °C, industrial sensor range
    Metric("humidity", low=0.0, high=100.0, required=True),        # relative humidity, %
    Metric("battery", low=0.0, high=100.0, required=False),        # state of charge, %
)
METRIC_NAMES = tuple(m.name for m in METRICS)
FIELDS = frozenset({"device_id", "ts", *METRIC_NAMES})
# AWS IoT thing-name rules; the topic rule takes the device id from devices/<id>/telemetry.
DEVICE_ID = re.compile(r"[A-Za-z0-9:_-]{1,128}")
# ts arrives as ISO-8601 with a time zone or as epoch milliseconds, within these bounds.
TS_EARLIEST_MS = 946_684_800_000      # 2000-01-01T00:00:00Z
TS_LATEST_MS = 4_102_444_800_000      # 2100-01-01T00:00:00Z
TS_MAX_LENGTH = 64
# Sensor resolution; rounding also keeps every value inside DynamoDB's number range.
VALUE_DECIMALS = 3

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


class InvalidRecord(ValueError):
    """A record that can never be processed: retrying it would not help."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Reading:
    device_id: str
    ts: str            # UTC, millisecond precision: 2024-05-01T12:00:00.000Z (sorts as it reads)
    epoch_ms: int
    temperature: float
    humidity: float
    battery: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.device_id, self.ts

    def metrics(self) -> dict[str, float]:
        """The metrics this reading carries, in schema order (absent optional ones left out)."""
        values = {name: getattr(self, name) for name in METRIC_NAMES}
        return {name: value for name, value in values.items() if value is not None}


def decode_reading(data: str) -> Reading:
    """Kinesis `data` (base64 text) -> a validated Reading, or InvalidRecord."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidRecord("invalid_base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRecord("invalid_utf8", f"byte {error.start}") from None
    try:
        document = json.loads(text, parse_constant=_reject_non_finite)
    except (ValueError, RecursionError) as error:   # JSONDecodeError is a ValueError
        raise InvalidRecord("invalid_json", str(error)[:200]) from None
    return validate_reading(document)


def validate_reading(document: Any) -> Reading:
    if not isinstance(document, dict):
        raise InvalidRecord("schema:not_an_object", type(document).__name__)
    unexpected = sorted(set(document) - FIELDS)
    if unexpected:
        raise InvalidRecord("schema:unexpected_field", ", ".join(unexpected)[:200])
    device_id = _required(document, "device_id")
    if not isinstance(device_id, str) or not DEVICE_ID.fullmatch(device_id):
        raise InvalidRecord("schema:device_id_invalid", "1-128 of A-Z a-z 0-9 : _ -")
    epoch_ms = _epoch_ms(_required(document, "ts"))
    values = {m.name: _metric_value(document, m) for m in METRICS}
    return Reading(device_id=device_id, ts=format_ts(epoch_ms), epoch_ms=epoch_ms, **values)


def format_ts(epoch_ms: int) -> str:
    moment = _EPOCH + epoch_ms * _ONE_MS
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}Z"


def _required(document: Mapping[str, Any], name: str) -> Any:
    if document.get(name) is None:
        raise InvalidRecord(f"schema:{name}_missing")
    return document[name]


def _epoch_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRecord("schema:ts_invalid", "expected ISO-8601 text or epoch milliseconds")
    if isinstance(value, str):
        value = _iso_to_epoch_ms(value)
    if not TS_EARLIEST_MS <= value < TS_LATEST_MS:
        raise InvalidRecord("schema:ts_out_of_range", "expected 2000-01-01 to 2100-01-01")
    return value


def _iso_to_epoch_ms(text: str) -> int:
    try:
        if len(text) > TS_MAX_LENGTH:
            raise ValueError("too long")
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord("schema:ts_invalid", "not ISO-8601") from None
    if moment.tzinfo is None:
        raise InvalidRecord("schema:ts_invalid", "no time zone")
    # Integer arithmetic: exact, and truncates sub-millisecond digits consistently.
    return (moment - _EPOCH) // _ONE_MS


def _metric_value(document: Mapping[str, Any], metric: Metric) -> float | None:
    value = document.get(metric.name)
    if value is None:
        if metric.required:
            raise InvalidRecord(f"schema:{metric.name}_missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"schema:{metric.name}_invalid", "expected a number")
    # Compared before float(): a huge JSON integer would overflow the conversion.
    if not metric.low <= value <= metric.high:
        raise InvalidRecord(f"schema:{metric.name}_out_of_range",
                            f"expected {metric.low:g} to {metric.high:g}")
    return round(float(value), VALUE_DECIMALS)


def _reject_non_finite(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


# --- alert rules ----------------------------------------------------------------------

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


@dataclass(frozen=True)
class AlertRule:
    metric: str
    op: str
    value: float

    def breached_by(self, reading: Reading) -> bool:
        measured = getattr(reading, self.metric)
        return measured is not None and OPERATORS[self.op](measured, self.value)


@dataclass(frozen=True)
class Alert:
    device_id: str
    metric: str
    value: float
    op: str
    threshold: float
    ts: str

    def message(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "metric": self.metric, "value": self.value,
                "op": self.op, "threshold": self.threshold, "ts": self.ts}


def alerts_for(reading: Reading, rules: tuple[AlertRule, ...]) -> list[Alert]:
    return [Alert(reading.device_id, rule.metric, getattr(reading, rule.metric), rule.op,
                  rule.value, reading.ts)
            for rule in rules if rule.breached_by(reading)]


def parse_alert_rules(text: str) -> tuple[AlertRule, ...]:
    """JSON `[{"metric": "temperature", "op": ">", "value": 80}, ...]` -> rules.

    Raises ValueError saying which rule is wrong and what is allowed."""
    try:
        document = json.loads(text, parse_constant=_reject_non_finite)
    except ValueError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    if not isinstance(document, list):
        raise ValueError("expected a JSON list of rules")
    rules: list[AlertRule] = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict) or set(item) != {"metric", "op", "value"}:
            raise ValueError(f"rule {number}: expected an object with metric, op and value")
        metric, op, value = item["metric"], item["op"], item["value"]
        if metric not in METRIC_NAMES:
            raise ValueError(f"rule {number}: metric {metric!r} is not one of {', '.join(METRIC_NAMES)}")
        if op not in OPERATORS:
            raise ValueError(f"rule {number}: op {op!r} is not one of {' '.join(OPERATORS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"rule {number}: value {value!r} is not a number")
        rule = AlertRule(metric, op, float(value))
        if rule not in rules:   # a repeated rule would publish the same alert twice
            rules.append(rule)
    return tuple(rules)
