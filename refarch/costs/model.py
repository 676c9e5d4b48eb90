"""A line of a cost estimate: a quantity of a billed unit at a unit price."""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730          # AWS's billing month for hourly prices
DAYS_PER_MONTH = 30.4
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


@dataclass(frozen=True)
class LineItem:
    item: str                  # what is billed, e.g. "Kinesis shard-hours"
    quantity: float            # how many units a month
    unit: str                  # the billed unit, e.g. "shard-hour"
    unit_price: float          # USD per unit (a price_* setting)
    basis: str = ""            # where the quantity comes from, e.g. "1 shard x 730 h"

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_price
