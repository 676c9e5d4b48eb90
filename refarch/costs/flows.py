"""What flows through a pattern costs: records, GB, requests, job minutes and the storage they
leave, from the expected-load settings. Where a figure is not a setting it is an assumption
named here, with the reason; change the setting, or read the line's basis, to see its effect."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from refarch.costs.deployed import resources, runs_per_month
from refarch.costs.load import CostSettings
from refarch.costs.model import DAYS_PER_MONTH, SECONDS_PER_MONTH, LineItem
from refarch.costs.prices import PriceSettings

KB_PER_GB = 1024 * 1024
PUT_UNIT_KB = 25                 # a Kinesis PUT payload unit
FIREHOSE_RECORD_KB = 5           # Firehose rounds each Direct PUT record up to 5 KB
# Assumptions (not settings): ask the benchmarks or your bill for better ones.
WRITER_MS_PER_RECORD = 1.0       # the IoT writer's DynamoDB round trips, per record of a batch
INVOCATION_MS = 50.0             # any function's fixed time per invocation
TRANSFORM_US_PER_RECORD = 10.0   # the log transform (benchmarks/log_transform.py: ~9-10 us per record)
READING_ITEM_BYTES = 200         # a stored reading, attributes and overhead
DYNAMODB_WRITES_PER_READING = 2  # the reading, and (at most) its device's latest-state item
DYNAMODB_READS_PER_READING = 1   # the duplicate check: two eventually consistent reads (reading, latest)
PARQUET_SHARE = 0.2              # Parquet (Snappy) size of the JSON or CSV it was made from
GZIP_SHARE = 0.1                 # gzip size of log lines (Firehose's raw/ source backup)
CURATED_SHARE = 0.3              # the lake's curated Parquet of its raw CSV
S3_OBJECT_MB = 64                # average object, for Intelligent-Tiering's per-object monitoring
CRAWLER_DPUS, CRAWLER_MINUTES = 2, 10   # a crawl: 2 DPUs, billed at least 10 minutes
LOADER_SECONDS = 60              # one warehouse load (a Data API batch, mostly waiting)


def lambda_items(name: str, *, invocations: float, ms_each: float, memory_mb: float,
                 prices: PriceSettings) -> Iterator[LineItem]:
    if invocations <= 0:
        return
    yield LineItem(f"Lambda {name} requests", invocations / 1e6, "million requests", prices.lambda_requests_million,
                   f"{invocations:,.0f} invocations")
    yield LineItem(f"Lambda {name} compute", invocations * ms_each / 1000 * memory_mb / 1024, "GB-second",
                   prices.lambda_gb_second, f"{invocations:,.0f} x {ms_each:,.0f} ms x {memory_mb:g} MB")


def memory_of(template: dict[str, Any], logical_prefix: str, default: int = 512) -> int:
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Lambda::Function" and name.startswith(logical_prefix):
            return resource["Properties"].get("MemorySize", 128)
    return default


def put_units(records_per_second: float, size_kb: float, streams: int, prices: PriceSettings,
              what: str) -> Iterator[LineItem]:
    if records_per_second <= 0:
        return
    units = records_per_second * SECONDS_PER_MONTH * max(1, math.ceil(size_kb / PUT_UNIT_KB)) * streams / 1e6
    yield LineItem("Kinesis PUT payload units", units, "million units", prices.kinesis_put_units_million,
                   f"{records_per_second:g} {what}/s x {streams} stream(s)")


def tiered_storage(what: str, gb_per_day: float, days: float, prices: PriceSettings) -> Iterator[LineItem]:
    """GB landed daily for `days`, in Intelligent-Tiering: 30 days frequent, 60 infrequent, then
    archive instant (no reads after the first month is the assumption; a read moves it back)."""
    if gb_per_day <= 0:
        return
    frequent, infrequent, archive = min(days, 30), min(max(days - 30, 0), 60), max(days - 90, 0)
    for tier, tier_days, price in (("frequent", frequent, prices.s3_it_frequent_gb_month),
                                   ("infrequent", infrequent, prices.s3_it_infrequent_gb_month),
                                   ("archive instant", archive, prices.s3_it_archive_instant_gb_month)):
        if tier_days:
            yield LineItem(f"S3 {what}, Intelligent-Tiering {tier}", gb_per_day * tier_days, "GB-month", price,
                           f"{gb_per_day:g} GB/day x {tier_days:g} days")
    objects = gb_per_day * days * 1024 / S3_OBJECT_MB
    yield LineItem(f"S3 {what}, Intelligent-Tiering monitoring", objects / 1000, "thousand objects",
                   prices.s3_it_monitoring_thousand_objects, f"{objects:,.0f} objects of {S3_OBJECT_MB} MB")


# --- per pattern -------------------------------------------------------------------------

def iot_items(settings: Any, cost: CostSettings, template: dict[str, Any], prices: PriceSettings,
              idle: bool) -> Iterator[LineItem]:
    iot = settings.iot
    rate = 0.0 if idle else iot.records_per_second
    if iot.stream_mode == "on-demand":
        if rate > 0:
            gb = rate * SECONDS_PER_MONTH * iot.record_size_kb / KB_PER_GB
            yield LineItem("Kinesis on-demand data written", gb, "GB", prices.kinesis_on_demand_gb,
                           f"{rate:g} readings/s x {iot.record_size_kb:g} KB")
    else:
        yield from put_units(rate, iot.record_size_kb, 1, prices, "readings")
    if rate > 0:
        shards = iot.shards or 1
        per_shard = rate / shards
        invocations = shards * max(1.0, per_shard / iot.batch_size) * SECONDS_PER_MONTH   # a 1 s batching window
        records_each = rate * SECONDS_PER_MONTH / invocations
        yield from lambda_items("writer", invocations=invocations,
                                ms_each=INVOCATION_MS + WRITER_MS_PER_RECORD * records_each,
                                memory_mb=memory_of(template, "WriterFunction"), prices=prices)
        readings = rate * SECONDS_PER_MONTH
        yield LineItem("DynamoDB write request units", readings * DYNAMODB_WRITES_PER_READING / 1e6,
                       "million WRU", prices.dynamodb_writes_million,
                       f"{readings:,.0f} readings x {DYNAMODB_WRITES_PER_READING} (reading, latest state)")
        yield LineItem("DynamoDB read request units", readings * DYNAMODB_READS_PER_READING / 1e6,
                       "million RRU", prices.dynamodb_reads_million, f"{readings:,.0f} duplicate checks")
        kept_days = min(iot.ttl_days, cost.month * DAYS_PER_MONTH)
        gb = rate * 86_400 * kept_days * READING_ITEM_BYTES / 1e9
        yield LineItem("DynamoDB storage", gb, "GB-month", prices.dynamodb_gb_month,
                       f"{kept_days:g} days of readings (TTL) x {READING_ITEM_BYTES} B")
        yield LineItem("DynamoDB point-in-time recovery", gb, "GB-month", prices.dynamodb_pitr_gb_month,
                       "the table's size")


def firehose_items(settings: Any, cost: CostSettings, template: dict[str, Any], prices: PriceSettings,
                   idle: bool) -> Iterator[LineItem]:
    rate = 0.0 if idle else cost.firehose_records_per_second
    if rate <= 0:
        return
    size = cost.firehose_record_size_kb
    records = rate * SECONDS_PER_MONTH
    gb = records * size / KB_PER_GB
    billed_gb = records * max(FIREHOSE_RECORD_KB, math.ceil(size / FIREHOSE_RECORD_KB) * FIREHOSE_RECORD_KB) / KB_PER_GB
    yield LineItem("Firehose ingestion", billed_gb, "GB", prices.firehose_gb,
                   f"{records:,.0f} records rounded up to {FIREHOSE_RECORD_KB} KB")
    yield LineItem("Firehose Parquet conversion", gb, "GB", prices.firehose_conversion_gb, f"{size:g} KB x records")
    yield LineItem("Firehose dynamic partitioning", gb, "GB", prices.firehose_partitioning_gb, "the same GB")
    flushes = SECONDS_PER_MONTH / 300                      # a 300 s buffer, one dt= partition per flush
    yield LineItem("Firehose delivered objects", flushes / 1000, "thousand objects",
                   prices.firehose_objects_thousand, f"{flushes:,.0f} buffer flushes")
    per_invocation = max(1.0, min(records / (SECONDS_PER_MONTH / 60), 1024 / size))   # 1 MB or 60 s
    invocations = records / per_invocation
    yield from lambda_items("transform", invocations=invocations,
                            ms_each=INVOCATION_MS + TRANSFORM_US_PER_RECORD * per_invocation / 1000,
                            memory_mb=memory_of(template, "TransformFunction"), prices=prices)
    days = cost.month * DAYS_PER_MONTH
    yield LineItem("S3 access-log Parquet, Standard", gb * PARQUET_SHARE * cost.month, "GB-month",
                   prices.s3_standard_gb_month, f"{cost.month} months kept x {PARQUET_SHARE:g} of the JSON")
    backup_days = min(settings.firehose.backup_days, days)
    yield LineItem("S3 raw/ source backup, Standard", gb * GZIP_SHARE * backup_days / DAYS_PER_MONTH, "GB-month",
                   prices.s3_standard_gb_month, f"{backup_days:g} days kept, gzipped to {GZIP_SHARE:g}")


def lake_items(settings: Any, cost: CostSettings, template: dict[str, Any], prices: PriceSettings,
               idle: bool) -> Iterator[LineItem]:
    load = cost.idle() if idle else cost
    schedules = [t["Schedule"] for t in resources(template, "AWS::Glue::Trigger") if t.get("Type") == "SCHEDULED"]
    runs = sum(runs_per_month(s) for s in schedules)
    dpu_per_worker = {"G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8}
    dpus = sum(dpu_per_worker[j.get("WorkerType", "G.1X")] * j.get("NumberOfWorkers", 2)
               for j in resources(template, "AWS::Glue::Job"))
    crawlers = sum(1 for _ in resources(template, "AWS::Glue::Crawler"))
    if runs and dpus:
        yield LineItem("Glue ETL job DPU-hours", runs * load.lake_job_minutes / 60 * dpus, "DPU-hour",
                       prices.glue_dpu_hour, f"{runs:g} runs x {load.lake_job_minutes:g} min x {dpus} DPUs")
    if runs and crawlers:
        yield LineItem("Glue crawler DPU-hours", runs * crawlers * CRAWLER_MINUTES / 60 * CRAWLER_DPUS, "DPU-hour",
                       prices.glue_dpu_hour,
                       f"{runs:g} runs x {crawlers} crawls x {CRAWLER_MINUTES} min (minimum) x {CRAWLER_DPUS} DPUs")
    days = cost.month * DAYS_PER_MONTH
    yield from tiered_storage("raw zone", load.lake_raw_gb_per_day, days, prices)
    yield from tiered_storage("curated zone", load.lake_raw_gb_per_day * CURATED_SHARE, days, prices)
    if load.lake_athena_tb_per_month > 0:
        yield LineItem("Athena data scanned", load.lake_athena_tb_per_month, "TB", prices.athena_tb,
                       "the analysts' queries")


def warehouse_items(settings: Any, cost: CostSettings, template: dict[str, Any], prices: PriceSettings,
                    idle: bool, *, lake_runs: float) -> Iterator[LineItem]:
    storage = 0.0 if idle else cost.warehouse_storage_gb
    if storage > 0:
        yield LineItem("Redshift managed storage", storage, "GB-month", prices.redshift_managed_storage_gb_month,
                       "the warehouse's tables")
    yield from lambda_items("loader", invocations=lake_runs, ms_each=LOADER_SECONDS * 1000,
                            memory_mb=memory_of(template, "LoaderFunction"), prices=prices)


def streaming_log_items(settings: Any, cost: CostSettings, template: dict[str, Any], prices: PriceSettings,
                        idle: bool) -> Iterator[LineItem]:
    clicks = settings.clickstream
    rate = 0.0 if idle else clicks.events_per_second
    yield from put_units(rate, clicks.event_size_kb, 2, prices, "events")     # the events and the clean stream
    if rate > 0:
        gb = rate * SECONDS_PER_MONTH * clicks.event_size_kb / KB_PER_GB
        yield LineItem("Firehose ingestion (stream sources)", gb * 2, "GB", prices.firehose_gb,
                       "the clean events, to the lake and to the search domain")


def adtech_items(settings: Any, cost: CostSettings, template: dict[str, Any], prices: PriceSettings,
                 idle: bool) -> Iterator[LineItem]:
    ads = settings.adtech
    yield from put_units(0.0 if idle else ads.events_per_second, ads.event_size_kb, 1, prices, "ad events")
