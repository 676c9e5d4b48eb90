"""StreamingLogAnalytics settings (context keys `clickstream_*`): what the sizing reads, how
the edge and the job behave, and the prices of the cost estimate. config.py validates them
with the parsers here, each failing with one line that names the setting."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refarch.clickstream_schema import MAX_BATCH
from refarch.setting_parsers import SettingError, parse_float, parse_int, parse_int_choice
from refarch.sizing import DEFAULT_PUT_UNITS_PER_MILLION_USD, DEFAULT_SHARD_HOUR_USD
from refarch.streaming_log_sizing import (
    SEARCH_INSTANCES, SearchSize, flink_parallelism, search_size, stream_shards,
)

ORIGIN = re.compile(r"^https://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$")
# Readers of the clean stream: the lake's Firehose, the search Firehose, Redshift streaming ingestion.
CLEAN_STREAM_CONSUMERS = 3


@dataclass(frozen=True)
class StreamingLogSettings:
    """StreamingLogAnalytics: expected load (sizes streams, Flink and the search domain), the
    collection API, the job's intervals, the search index's retention, and prices."""

    allowed_origins: tuple[str, ...] = ("https://www.example.com",)
    batch_max: int = MAX_BATCH
    rate_limit: int = 500            # requests/s at the stage
    burst_limit: int = 1000
    events_per_second: float = 100.0
    event_size_kb: float = 1.0
    stream_retention_hours: int = 24
    dedup_minutes: int = 10
    idle_timeout_seconds: int = 60
    checkpoint_seconds: int = 60
    events_per_kpu: float = 2000.0   # what one Flink task of this job sustains (measure yours)
    search_instance_type: str = "r6g.large.search"
    search_retention_days: int = 30
    search_replicas: int = 1
    search_masters: int = 0
    kpu_hour_usd: float = 0.11
    search_gb_month_usd: float = 0.122
    firehose_gb_usd: float = 0.029
    shard_hour_usd: float = DEFAULT_SHARD_HOUR_USD
    put_units_per_million_usd: float = DEFAULT_PUT_UNITS_PER_MILLION_USD

    @property
    def parallelism(self) -> int:
        return flink_parallelism(self.events_per_second, self.events_per_kpu)

    @property
    def raw_shards(self) -> int:
        return stream_shards(self.events_per_second, self.event_size_kb, consumers=1)

    @property
    def clean_shards(self) -> int:
        return stream_shards(self.events_per_second, self.event_size_kb, consumers=CLEAN_STREAM_CONSUMERS)

    def search(self, azs: int) -> SearchSize:
        return search_size(self.events_per_second, self.event_size_kb, retention_days=self.search_retention_days,
                           replicas=self.search_replicas, instance_type=self.search_instance_type, azs=azs)


def parse_origins(setting: str, raw: Any) -> tuple[str, ...]:
    origins = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    origins = tuple(dict.fromkeys(str(o).strip().rstrip("/") for o in origins if str(o).strip()))
    if not origins or any(not ORIGIN.match(o) for o in origins):
        raise SettingError(setting, raw, "a comma-separated list of https://host[:port] site origins "
                                         "(lower-case, no path)")
    return origins


def parse_instance_type(setting: str, raw: Any) -> str:
    if raw not in SEARCH_INSTANCES:
        raise SettingError(setting, raw, "one of " + ", ".join(SEARCH_INSTANCES))
    return raw


PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "clickstream_allowed_origins": parse_origins,
    "clickstream_batch_max": lambda k, v: parse_int(k, v, 1, MAX_BATCH),   # PutRecords takes 500 at most
    "clickstream_rate_limit": lambda k, v: parse_int(k, v, 1, 10_000),
    "clickstream_burst_limit": lambda k, v: parse_int(k, v, 1, 5_000),
    "clickstream_events_per_second": lambda k, v: parse_float(k, v, 0.001, 1_000_000),
    "clickstream_event_size_kb": lambda k, v: parse_float(k, v, 0.01, 1024),
    "clickstream_stream_retention_hours": lambda k, v: parse_int(k, v, 24, 8760),
    "clickstream_dedup_minutes": lambda k, v: parse_int(k, v, 1, 1440),
    "clickstream_idle_timeout_seconds": lambda k, v: parse_int(k, v, 1, 3600),
    "clickstream_checkpoint_seconds": lambda k, v: parse_int(k, v, 1, 3600),
    "clickstream_events_per_kpu": lambda k, v: parse_float(k, v, 1, 1_000_000),
    "clickstream_search_instance_type": parse_instance_type,
    "clickstream_search_retention_days": lambda k, v: parse_int(k, v, 1, 3650),
    "clickstream_search_replicas": lambda k, v: parse_int(k, v, 0, 2),
    "clickstream_search_masters": lambda k, v: parse_int_choice(k, v, (0, 3, 5)),
    "clickstream_kpu_hour_usd": lambda k, v: parse_float(k, v, 0, 10),
    "clickstream_search_gb_month_usd": lambda k, v: parse_float(k, v, 0, 10),
    "clickstream_firehose_gb_usd": lambda k, v: parse_float(k, v, 0, 10),
    "clickstream_shard_hour_usd": lambda k, v: parse_float(k, v, 0, 10),
    "clickstream_put_units_per_million_usd": lambda k, v: parse_float(k, v, 0, 10),
}


def check_streaming_log(settings: StreamingLogSettings, azs: int) -> None:
    """The checks across settings; each names the setting to change."""
    if settings.burst_limit < settings.rate_limit:
        raise SettingError("clickstream_burst_limit", settings.burst_limit,
                           f"at least clickstream_rate_limit ({settings.rate_limit})")
    try:
        settings.search(azs)
    except ValueError as error:
        raise SettingError("clickstream_search_instance_type", settings.search_instance_type, str(error)) from None
    if settings.parallelism > 1000:
        raise SettingError("clickstream_events_per_kpu", settings.events_per_kpu,
                           f"enough for {settings.events_per_second:g} events/s in at most 1000 Flink tasks")
