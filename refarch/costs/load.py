"""Expected load the estimate prices (`-c cost_<name>=...`): what flows through the patterns
whose other settings do not already say it (IotTelemetry, AdTech and StreamingLogAnalytics
have their own rates). Storage that accumulates is priced as it stands after `month` months."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from refarch.setting_parsers import parse_float, parse_int


@dataclass(frozen=True)
class CostSettings:
    month: int = 12                               # storage that keeps growing, priced in this month
    firehose_records_per_second: float = 50.0     # log lines put on the delivery stream
    firehose_record_size_kb: float = 0.3
    lake_raw_gb_per_day: float = 1.0              # raw CSV landed in the lake
    lake_job_minutes: float = 10.0                # one nightly ETL run (incremental: follows the new data)
    lake_athena_tb_per_month: float = 0.1         # scanned by the analysts' queries
    warehouse_storage_gb: float = 100.0           # Redshift managed storage in use

    def idle(self) -> CostSettings:
        """No data flowing and none stored: what a deployment costs by merely existing. The
        nightly job still starts (a minute, its minimum) and the crawlers still run."""
        return replace(self, firehose_records_per_second=0.0, lake_raw_gb_per_day=0.0, lake_job_minutes=1.0,
                       lake_athena_tb_per_month=0.0, warehouse_storage_gb=0.0)


_LIMITS: dict[str, tuple[float, float]] = {
    "firehose_records_per_second": (0, 1_000_000), "firehose_record_size_kb": (0.001, 1000),
    "lake_raw_gb_per_day": (0, 1_000_000), "lake_job_minutes": (1, 2880),   # Glue bills a 1-minute minimum
    "lake_athena_tb_per_month": (0, 1_000_000), "warehouse_storage_gb": (0, 10_000_000),
}


def cost_parsers() -> dict[str, Callable[[str, Any], Any]]:
    parsers: dict[str, Callable[[str, Any], Any]] = {"cost_month": lambda k, v: parse_int(k, v, 1, 120)}
    for field in fields(CostSettings):
        if field.name in _LIMITS:
            low, high = _LIMITS[field.name]
            parsers[f"cost_{field.name}"] = lambda k, v, low=low, high=high: parse_float(k, v, low, high)
    return parsers
