"""Parsers for settings: a raw context value (often a string from `-c`) to a typed value.

Each raises `SettingError` with one line naming the setting, the value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import date
from typing import Any


class SettingError(ValueError):
    """A setting has a value outside what is allowed."""

    def __init__(self, setting: str, value: Any, allowed: str) -> None:
        self.setting, self.value, self.allowed = setting, value, allowed
        super().__init__(f"invalid setting {setting}={value!r}: allowed {allowed}")


def parse_choice(setting: str, raw: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if raw not in allowed:
        raise SettingError(setting, raw, "one of " + ", ".join(allowed))
    return raw


def parse_int(setting: str, raw: Any, low: int, high: int) -> int:
    allowed = f"a whole number from {low} to {high}"
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise SettingError(setting, raw, allowed) from None
    if not low <= value <= high:
        raise SettingError(setting, raw, allowed)
    return value


def parse_float(setting: str, raw: Any, low: float, high: float) -> float:
    allowed = f"a number from {low:g} to {high:g}"
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise SettingError(setting, raw, allowed) from None
    if not low <= value <= high:
        raise SettingError(setting, raw, allowed)
    return value


def parse_int_choice(setting: str, raw: Any, allowed: Iterable[int]) -> int:
    allowed = tuple(allowed)
    message = "one of " + ", ".join(map(str, allowed))
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise SettingError(setting, raw, message) from None
    if value not in allowed:
        raise SettingError(setting, raw, message)
    return value


def parse_names(setting: str, raw: Any, allowed: Iterable[str], *, may_be_empty: bool) -> tuple[str, ...]:
    """A comma-separated string or a list of names, each from `allowed`, order kept."""
    allowed = tuple(allowed)
    names = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    names = [str(n).strip() for n in names if str(n).strip()]
    if names == ["none"] and may_be_empty:
        return ()
    empty_hint = " (or 'none')" if may_be_empty else ""
    message = "a comma-separated list of " + ", ".join(allowed) + empty_hint
    unknown = [n for n in names if n not in allowed]
    if unknown or (not names and not may_be_empty):
        raise SettingError(setting, raw, message)
    return tuple(dict.fromkeys(names))


def parse_cidr(setting: str, raw: Any, min_prefix: int, max_prefix: int) -> str:
    allowed = f"a private IPv4 CIDR block with a prefix from /{min_prefix} to /{max_prefix}"
    try:
        network = ipaddress.IPv4Network(str(raw).strip(), strict=True)
    except ValueError:
        raise SettingError(setting, raw, allowed) from None
    if not network.is_private or not min_prefix <= network.prefixlen <= max_prefix:
        raise SettingError(setting, raw, allowed)
    return str(network)


def parse_date(setting: str, raw: Any, low: str, high: str) -> str:
    """A calendar date written YYYY-MM-DD, from `low` to `high`."""
    value = str(raw).strip()
    allowed = f"a date YYYY-MM-DD from {low} to {high}"
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise SettingError(setting, raw, allowed) from None
    if len(value) != 10 or not date.fromisoformat(low) <= parsed <= date.fromisoformat(high):
        raise SettingError(setting, raw, allowed)
    return value


def parse_bool(setting: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value not in ("true", "false"):
        raise SettingError(setting, raw, "true or false")
    return value == "true"


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def parse_identifier(setting: str, raw: Any, *, max_length: int) -> str:
    """A lower-case SQL/Glue identifier: letters, digits and underscores."""
    value = str(raw).strip()
    if not _IDENTIFIER.match(value) or len(value) > max_length:
        raise SettingError(setting, raw, f"lower-case letters, digits and _ (at most {max_length})")
    return value


_GLUE_CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")


def parse_glue_cron(setting: str, raw: Any) -> str:
    """A Glue/EventBridge cron expression with six fields, e.g. cron(0 2 * * ? *)."""
    value = str(raw).strip()
    if not _GLUE_CRON.match(value):
        raise SettingError(setting, raw, "a cron expression with six fields, like cron(0 2 * * ? *)")
    return value


_RULE = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_threshold_rules(setting: str, raw: Any, metrics: Iterable[str]) -> tuple[tuple[str, str, float], ...]:
    """`temperature>80,humidity>=95` -> (("temperature", ">", 80.0), ("humidity", ">=", 95.0))."""
    metrics = tuple(metrics)
    allowed = f"comma-separated rules like temperature>80 over {', '.join(metrics)} (or 'none')"
    text = ",".join(raw) if isinstance(raw, (list, tuple)) else str(raw)
    if text.strip() == "none":
        return ()
    rules = []
    for part in text.split(","):
        match = _RULE.match(part)
        if not match or match.group(1) not in metrics:
            raise SettingError(setting, raw, allowed)
        rules.append((match.group(1), match.group(2), float(match.group(3))))
    return tuple(rules)
