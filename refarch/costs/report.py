"""The estimate as tables: one per stack for `refarch cost`, one line per stack for `refarch synth`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from refarch.costs.estimate import StackCost, estimate_stacks, top_items
from refarch.costs.prices import PRICES_READ, PRICES_REGION


def templates_of(synthesis: Any) -> dict[str, dict]:
    return {name: synthesis.template(name) for name in synthesis.stacks}


def stack_table(estimate: StackCost, *, idle: bool) -> Table:
    table = Table(title=f"{estimate.stack}: monthly cost{' when idle' if idle else ''}")
    for column in ("item", "quantity", "unit", "USD / unit", "USD / month", "from"):
        table.add_column(column, justify="right" if column in ("quantity", "USD / unit", "USD / month") else "left")
    for item in estimate.items:
        table.add_row(item.item, f"{item.quantity:,.2f}", item.unit, f"{item.unit_price:g}",
                      f"{item.monthly_usd:,.2f}", item.basis)
    table.add_row("total", "", "", "", f"{estimate.monthly_usd:,.2f}", "")
    return table


def footnote(settings: Any) -> str:
    return (f"Prices: {PRICES_REGION} on-demand list prices read {PRICES_READ} (set them with -c price_<name>=USD);"
            f" storage as it stands in month {settings.cost.month} (-c cost_month=N); free tiers not subtracted."
            " Not estimated: API Gateway, SQS, SNS and EventBridge requests, CloudWatch Logs ingestion, KMS"
            " requests, data transfer.")


def print_estimates(console: Any, synthesis: Any, *, idle: bool = False) -> list[StackCost]:
    """One table per stack, then the total and the largest lines."""
    estimates = estimate_stacks(synthesis.settings, templates_of(synthesis), idle=idle)
    for estimate in estimates:
        console.print(stack_table(estimate, idle=idle))
    total = sum(e.monthly_usd for e in estimates)
    largest = ", ".join(f"{item.item} ({stack}) ${item.monthly_usd:,.2f}" for stack, item in top_items(estimates))
    console.print(f"all stacks: ${total:,.2f} a month{' when idle' if idle else ''}; largest: {largest}")
    console.print(footnote(synthesis.settings))
    return estimates


def summary_table(synthesis: Any) -> Table:
    """Per stack: the monthly cost at the expected load and when idle (for `refarch synth`)."""
    templates = templates_of(synthesis)
    loaded = estimate_stacks(synthesis.settings, templates)
    idle = estimate_stacks(synthesis.settings, templates, idle=True)
    table = Table(title="monthly cost per stack (refarch cost for the lines)")
    for column in ("stack", "at the expected load", "idle"):
        table.add_column(column, justify="left" if column == "stack" else "right")
    for at_load, at_rest in zip(loaded, idle):
        table.add_row(at_load.stack, f"${at_load.monthly_usd:,.2f}", f"${at_rest.monthly_usd:,.2f}")
    table.add_row("all stacks", f"${_total(loaded):,.2f}", f"${_total(idle):,.2f}")
    return table


def _total(estimates: Sequence[StackCost]) -> float:
    return sum(e.monthly_usd for e in estimates)
