"""`refarch cost` for StreamingLogAnalytics: what the sizing derives from the expected load, and
the monthly cost of each billed part, as a table."""

from __future__ import annotations

from rich.table import Table

from refarch.streaming_log_sizing import monthly_costs, source_gb_per_day


def streaming_log_cost_table(settings) -> Table:
    """settings: the app's Settings (the clickstream group and the baseline's zones)."""
    clickstream = settings.clickstream
    azs = settings.baseline.azs if isinstance(settings.baseline.azs, int) else len(settings.baseline.azs)
    search = clickstream.search(azs)
    table = Table(title="StreamingLogAnalytics sizing and monthly cost (us-east-1 list prices unless set)")
    for column in ("part", "sized from the load", "USD / month"):
        table.add_column(column, justify="right" if column.startswith("USD") else "left")
    table.add_row("expected load", f"{clickstream.events_per_second:g} events/s x {clickstream.event_size_kb:g} KB "
                  f"= {source_gb_per_day(clickstream.events_per_second, clickstream.event_size_kb):,.2f} GB/day", "")
    table.add_row("search storage", f"{search.storage_gb:,.0f} GB ({clickstream.search_retention_days} days, "
                  f"{clickstream.search_replicas} replica(s), x1.45 overhead)", "")
    lines = monthly_costs(
        events_per_second=clickstream.events_per_second, event_size_kb=clickstream.event_size_kb, search=search,
        parallelism=clickstream.parallelism, raw_shards=clickstream.raw_shards, clean_shards=clickstream.clean_shards,
        kpu_hour_usd=clickstream.kpu_hour_usd, search_gb_month_usd=clickstream.search_gb_month_usd,
        firehose_gb_usd=clickstream.firehose_gb_usd, shard_hour_usd=clickstream.shard_hour_usd,
        put_units_per_million_usd=clickstream.put_units_per_million_usd)
    for line in lines:
        table.add_row(line.item, line.quantity, f"${line.monthly_usd:,.2f}")
    table.add_row("estimated monthly cost", "(API Gateway requests, S3 and Redshift not included)",
                  f"${sum(line.monthly_usd for line in lines):,.2f}")
    return table
