"""Typed, validated settings read from CDK context (`-c key=value` or cdk.json).

Every setting is checked when the app is built. A bad value raises `SettingError`,
whose one-line message names the setting, the value given and what is allowed; the
entry points print that line and exit non-zero instead of showing a stack trace.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from refarch.patterns import PATTERN_NAMES

STAGES = ("dev", "prod")

# Placeholder environment used when no AWS account is configured (tests, CI synth).
DUMMY_ACCOUNT = "123456789012"
DUMMY_REGION = "us-east-1"

# Interface endpoints the baseline can create, by the name used in settings.
INTERFACE_ENDPOINT_NAMES = (
    "kinesis-streams", "firehose", "kms", "logs", "sts", "sns", "sqs", "glue",
    "athena", "secretsmanager", "redshift-data", "ssm", "monitoring", "events",
    "lambda", "kinesis-analytics", "ecr.api", "ecr.dkr",
)
DEFAULT_INTERFACE_ENDPOINTS = (
    "kinesis-streams", "firehose", "kms", "logs", "sts", "sns", "sqs", "glue",
    "athena", "secretsmanager", "redshift-data",
)

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
    2192, 2557, 2922, 3288, 3653,
)

# A context key that looks like one of ours (CDK's own keys contain ':', '@' or '-').
_OUR_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class SettingError(ValueError):
    """A setting has a value outside what is allowed."""

    def __init__(self, setting: str, value: Any, allowed: str) -> None:
        self.setting, self.value, self.allowed = setting, value, allowed
        super().__init__(f"invalid setting {setting}={value!r}: allowed {allowed}")


# --- parsers: raw context value (often a string from `-c`) -> typed value -------------

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


# --- the settings ---------------------------------------------------------------------

@dataclass(frozen=True)
class BaselineSettings:
    """Sizing of the SecurityBaseline stack."""

    azs: int = 2
    vpc_cidr: str = "10.40.0.0/16"
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    log_retention_days: int = 365
    access_log_retention_days: int = 365


@dataclass(frozen=True)
class Settings:
    stage: str = "dev"
    patterns: tuple[str, ...] = PATTERN_NAMES
    account: str = DUMMY_ACCOUNT
    region: str = DUMMY_REGION
    baseline: BaselineSettings = field(default_factory=BaselineSettings)

    @property
    def retains_data(self) -> bool:
        """`prod` keeps every data store on `cdk destroy`; `dev` may delete them."""
        return self.stage == "prod"


# One entry per context key: how to parse it. Keys not listed here are rejected.
_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "stage": lambda k, v: parse_choice(k, v, STAGES),
    "patterns": lambda k, v: parse_names(k, v, PATTERN_NAMES, may_be_empty=False),
    "azs": lambda k, v: parse_int(k, v, 1, 3),
    "vpc_cidr": lambda k, v: parse_cidr(k, v, 16, 24),
    "interface_endpoints": lambda k, v: parse_names(k, v, INTERFACE_ENDPOINT_NAMES, may_be_empty=True),
    "log_retention_days": lambda k, v: parse_int_choice(k, v, LOG_RETENTION_DAYS),
    "access_log_retention_days": lambda k, v: parse_int(k, v, 1, 3653),
}

SETTING_NAMES = tuple(_PARSERS)


def settings_from_context(context: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Validate the CDK context and the deploy environment into `Settings`."""
    environ = os.environ if environ is None else environ
    unknown = sorted(k for k in context if _OUR_KEY.match(k) and k not in _PARSERS)
    if unknown:
        raise SettingError(unknown[0], context[unknown[0]], "settings are " + ", ".join(SETTING_NAMES))
    values = {key: parse(key, context[key]) for key, parse in _PARSERS.items() if key in context}

    baseline_fields = BaselineSettings.__dataclass_fields__
    baseline = BaselineSettings(**{k: v for k, v in values.items() if k in baseline_fields})
    top = {k: v for k, v in values.items() if k in ("stage", "patterns")}
    account = environ.get("CDK_DEFAULT_ACCOUNT") or DUMMY_ACCOUNT
    region = environ.get("CDK_DEFAULT_REGION") or DUMMY_REGION
    return Settings(**top, account=account, region=region, baseline=baseline)
