"""The estimate of every stack: what it costs for being deployed (its template) plus what
flows through it (the expected-load settings), one line per billed unit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from refarch.costs import flows
from refarch.costs.deployed import deployed_items, resources, runs_per_month
from refarch.costs.model import LineItem

FLOWS: dict[str, Callable[..., Iterable[LineItem]]] = {
    "IotTelemetry": flows.iot_items, "FirehoseParquet": flows.firehose_items,
    "BatchDataLake": flows.lake_items, "StreamingLogAnalytics": flows.streaming_log_items,
    "AdTech": flows.adtech_items,
}


@dataclass(frozen=True)
class StackCost:
    stack: str
    items: tuple[LineItem, ...]

    @property
    def monthly_usd(self) -> float:
        return sum(item.monthly_usd for item in self.items)


def estimate_stacks(settings: Any, templates: Mapping[str, dict[str, Any]], *, idle: bool = False) -> list[StackCost]:
    """One StackCost per template, in their order. `idle`: nothing flowing, nothing stored."""
    prices, cost = settings.prices, settings.cost
    estimates = []
    for stack, template in templates.items():
        items = list(deployed_items(template, prices))
        if stack in FLOWS:
            items += FLOWS[stack](settings, cost, template, prices, idle)
        elif stack == "RedshiftWarehouse":
            items += flows.warehouse_items(settings, cost, template, prices, idle,
                                           lake_runs=_loads_per_month(settings, templates))
        estimates.append(StackCost(stack, tuple(i for i in items if i.quantity > 0 or i.unit_price == 0)))
    return estimates


def _loads_per_month(settings: Any, templates: Mapping[str, dict[str, Any]]) -> float:
    """The warehouse loads after each lake ETL run, or on its own cron."""
    if settings.warehouse.load_trigger != "after-etl":
        return runs_per_month(settings.warehouse.load_trigger)
    lake = templates.get("BatchDataLake", {})
    return sum(runs_per_month(t["Schedule"]) for t in resources(lake, "AWS::Glue::Trigger") if t.get("Type") == "SCHEDULED")


def top_items(estimates: Iterable[StackCost], count: int = 3) -> list[tuple[str, LineItem]]:
    """The largest lines across stacks: (stack, line)."""
    lines = [(e.stack, item) for e in estimates for item in e.items]
    return sorted(lines, key=lambda pair: pair[1].monthly_usd, reverse=True)[:count]
