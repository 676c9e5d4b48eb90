"""Sizing from expected load: Kinesis shards and the stream's monthly cost.

Kinesis limits per shard: 1 MB/s or 1,000 records/s in, 2 MB/s out (shared by all
standard consumers). Provisioned pricing: per shard-hour, plus per million PUT payload
units, where a unit is each started 25 KB of a record. Prices are settings because
they differ by region and change over time; the defaults are us-east-1 list prices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
PUT_PAYLOAD_UNIT_KB = 25
DEFAULT_SHARD_HOUR_USD = 0.015
DEFAULT_PUT_UNITS_PER_MILLION_USD = 0.014


@dataclass(frozen=True)
class StreamLoad:
    records_per_second: float
    record_size_kb: float
    consumers: int = 1  # standard (shared-throughput) consumers reading every record

    @property
    def write_kb_per_second(self) -> float:
        return self.records_per_second * self.record_size_kb

    @property
    def read_kb_per_second(self) -> float:
        return self.write_kb_per_second * self.consumers


def shards_for(load: StreamLoad) -> int:
    """ceil(max(write KB/s / 1000, read KB/s / 2000, records/s / 1000)), at least 1."""
    need = max(load.write_kb_per_second / 1000, load.read_kb_per_second / 2000,
               load.records_per_second / 1000)
    return max(1, math.ceil(need))


@dataclass(frozen=True)
class StreamCost:
    shards: int
    shard_hours: float
    put_payload_units_millions: float
    shard_hours_usd: float
    put_units_usd: float

    @property
    def monthly_usd(self) -> float:
        return self.shard_hours_usd + self.put_units_usd


def monthly_stream_cost(load: StreamLoad, *, shards: int | None = None,
                        shard_hour_usd: float = DEFAULT_SHARD_HOUR_USD,
                        put_units_per_million_usd: float = DEFAULT_PUT_UNITS_PER_MILLION_USD) -> StreamCost:
    """Monthly cost of a provisioned stream carrying `load` (730 hours a month)."""
    shards = shards_for(load) if shards is None else shards
    units_per_record = max(1, math.ceil(load.record_size_kb / PUT_PAYLOAD_UNIT_KB))
    units_millions = load.records_per_second * SECONDS_PER_MONTH * units_per_record / 1e6
    shard_hours = shards * HOURS_PER_MONTH
    return StreamCost(shards, shard_hours, units_millions, shard_hours * shard_hour_usd,
                      units_millions * put_units_per_million_usd)
