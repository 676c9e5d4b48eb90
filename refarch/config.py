"""Typed, validated settings read from CDK context (`-c key=value` or cdk.json).

Every setting is checked when the app is built. A bad value raises `SettingError`,
whose one-line message names the setting, the value given and what is allowed; the
entry points print that line and exit non-zero instead of showing a stack trace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from refarch.constructs.logs import RETENTION_DAYS
from refarch.constructs.network import INTERFACE_SERVICES
from refarch.constructs.python_function import DEFAULT_POWERTOOLS_LAYER_VERSION
from refarch.constructs.warehouse import NODE_TYPES, SINGLE_NODE_TYPES
from refarch.constructs.zones import MAX_AZS, zone_id_prefix, zone_kind, zones_outside
from refarch.endpoint_needs import check_interface_endpoints, needed_interface_endpoints
from refarch.lambda_code import load_lambda_module
from refarch.patterns import BASELINE, PATTERN_NAMES, REQUIRES
from refarch.setting_parsers import (
    SettingError, parse_choice, parse_cidr, parse_float, parse_int, parse_int_choice, parse_names,
    parse_bool, parse_date, parse_glue_cron, parse_identifier, parse_threshold_rules,
)
from refarch.costs.load import CostSettings, cost_parsers
from refarch.costs.prices import PriceSettings, price_parsers
from refarch.streaming_log_settings import PARSERS as CLICKSTREAM_PARSERS
from refarch.streaming_log_settings import StreamingLogSettings, check_streaming_log
from refarch.sizing import StreamLoad, shards_for

STAGES = ("dev", "prod")

# Placeholder environment used when no AWS account is configured (tests, CI synth).
DUMMY_ACCOUNT = "123456789012"
DUMMY_REGION = "us-east-1"

# Interface endpoints the baseline can create, by the name used in settings.
INTERFACE_ENDPOINT_NAMES = tuple(INTERFACE_SERVICES)
# What the patterns' compute in the VPC calls (endpoint_needs.py); a setting may add more.
DEFAULT_INTERFACE_ENDPOINTS = needed_interface_endpoints()
LOG_RETENTION_DAYS = tuple(RETENTION_DAYS)
MAX_GLUE_NAME = 64

# A context key that looks like one of ours (CDK's own keys contain ':', '@' or '-').
_OUR_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


# --- the settings ---------------------------------------------------------------------

@dataclass(frozen=True)
class BaselineSettings:
    """Sizing of the SecurityBaseline stack."""

    azs: int | tuple[str, ...] = 2  # a count, or the zones by name or id
    vpc_cidr: str = "10.40.0.0/16"
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    log_retention_days: int = 365
    access_log_retention_days: int = 365


@dataclass(frozen=True)
class IotSettings:
    """IotTelemetry: expected load (sizes the stream), consumer and alerting behaviour."""

    records_per_second: float = 200.0
    record_size_kb: float = 0.5
    consumers: int = 1
    stream_mode: str = "provisioned"
    # A week: a batch that fails on a Friday evening can still be replayed on Monday. Any
    # retention over 24 h costs the same (extended retention is billed per shard-hour).
    retention_hours: int = 168
    batch_size: int = 100
    ttl_days: int = 30
    alert_rules: tuple[tuple[str, str, float], ...] = (("temperature", ">", 80.0), ("battery", "<", 10.0))

    @property
    def load(self) -> StreamLoad:
        return StreamLoad(self.records_per_second, self.record_size_kb, self.consumers)

    @property
    def shards(self) -> int | None:
        """Provisioned shards from the expected load; None for an on-demand stream."""
        return None if self.stream_mode == "on-demand" else shards_for(self.load)


@dataclass(frozen=True)
class FirehoseSettings:
    """FirehoseParquet: the Glue database name, the delivery buffer and the first log date."""

    database: str = "refarch_logs"  # the stage is appended: refarch_logs_dev
    buffer_mb: int = 128
    # The table projects dt from this day to tomorrow; lines dated outside go to dt=undated.
    first_log_date: str = "2020-01-01"
    backup_days: int = 90   # the raw/ source backup and errors/ objects expire after this


@dataclass(frozen=True)
class LakeSettings:
    """BatchDataLake: catalog, schedule, job size, lifecycle and query guard rails."""

    database: str = "refarch_lake"  # the stage is appended: refarch_lake_dev
    crawl_schedule: str = "cron(0 2 * * ? *)"  # daily at 02:00 UTC
    worker_type: str = "G.1X"
    workers: int = 2
    # Storage that stays bounded: Athena results expire, rewritten curated partitions keep
    # their old versions this long (raw and curated both use Intelligent-Tiering).
    query_results_days: int = 30
    curated_versions_days: int = 7
    bytes_scanned_cutoff_mb: int = 10240
    # The trades table projects trade_date from this day to tomorrow, and the ETL job rejects
    # trades outside that range (timestamp_out_of_range), so every stored day is queryable.
    first_trade_date: str = "2024-01-01"


@dataclass(frozen=True)
class WarehouseSettings:
    """RedshiftWarehouse: cluster size, database, port, backups and the load schedule."""

    node_type: str = "ra3.xlplus"
    nodes: int = 1
    database: str = "analytics"
    port: int = 5439
    snapshot_retention_days: int = 7
    load_trigger: str = "after-etl"  # or a cron(...) expression


API_AUTH_MODES = ("iam", "api-key")


@dataclass(frozen=True)
class AdTechSettings:
    """AdTech: expected ad-event load (sizes the stream), the job's attribution window, the
    updater's ranking rules and the placement API's exploration, auth and limits."""

    events_per_second: float = 1000.0
    event_size_kb: float = 0.3
    retention_hours: int = 24
    attribution_minutes: int = 5
    idle_timeout_seconds: int = 60
    parallelism: int = 1
    batch_size: int = 100
    prior_ctr: float = 0.01
    prior_impressions: float = 100.0
    min_impressions: int = 30
    exploration_share: float = 0.1
    ranking_ttl_hours: int = 24
    fallback_ad: str = "house-ad"
    api_auth: str = "iam"
    api_rate_per_second: int = 1000
    api_burst: int = 2000
    api_cache_seconds: int = 5
    api_p99_ms: int = 100

    @property
    def shards(self) -> int:
        """Provisioned shards for the ad-event stream (one consumer: the Flink job)."""
        return shards_for(StreamLoad(self.events_per_second, self.event_size_kb, 1))


@dataclass(frozen=True)
class Settings:
    stage: str = "dev"
    patterns: tuple[str, ...] = PATTERN_NAMES
    powertools_layer_version: str = DEFAULT_POWERTOOLS_LAYER_VERSION  # a Powertools release
    account: str = DUMMY_ACCOUNT
    region: str = DUMMY_REGION
    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    iot: IotSettings = field(default_factory=IotSettings)
    firehose: FirehoseSettings = field(default_factory=FirehoseSettings)
    lake: LakeSettings = field(default_factory=LakeSettings)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    adtech: AdTechSettings = field(default_factory=AdTechSettings)
    clickstream: StreamingLogSettings = field(default_factory=StreamingLogSettings)
    prices: PriceSettings = field(default_factory=PriceSettings)     # `refarch cost` (refarch/costs/)
    cost: CostSettings = field(default_factory=CostSettings)

    @property
    def retains_data(self) -> bool:
        """`prod` keeps every data store on `cdk destroy`; `dev` may delete them."""
        return self.stage == "prod"


# Metrics a telemetry reading carries, as the writer's schema declares them.
IOT_METRICS: tuple[str, ...] = load_lambda_module("iot_writer", "iot_writer_schema").METRIC_NAMES

# One entry per context key: how to parse it. Keys not listed here are rejected.
# Keys of a settings group carry its prefix: iot_batch_size -> Settings.iot.batch_size.
_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "stage": lambda k, v: parse_choice(k, v, STAGES),
    "patterns": lambda k, v: parse_names(k, v, PATTERN_NAMES, may_be_empty=False),
    "powertools_layer_version": lambda k, v: parse_powertools_release(k, v),
    "azs": lambda k, v: parse_azs(k, v),
    "vpc_cidr": lambda k, v: parse_cidr(k, v, 16, 24),
    "interface_endpoints": lambda k, v: parse_names(k, v, INTERFACE_ENDPOINT_NAMES, may_be_empty=True),
    "log_retention_days": lambda k, v: parse_int_choice(k, v, LOG_RETENTION_DAYS),
    "access_log_retention_days": lambda k, v: parse_int(k, v, 1, 3653),
    "iot_records_per_second": lambda k, v: parse_float(k, v, 0.001, 1_000_000),
    "iot_record_size_kb": lambda k, v: parse_float(k, v, 0.001, 1024),  # 1 MB Kinesis record limit
    "iot_consumers": lambda k, v: parse_int(k, v, 1, 20),
    "iot_stream_mode": lambda k, v: parse_choice(k, v, ("provisioned", "on-demand")),
    "iot_retention_hours": lambda k, v: parse_replay_retention(k, v),
    "iot_batch_size": lambda k, v: parse_int(k, v, 1, 10000),
    "iot_ttl_days": lambda k, v: parse_int(k, v, 1, 3650),
    "iot_alert_rules": lambda k, v: parse_threshold_rules(k, v, IOT_METRICS),
    "firehose_database": lambda k, v: parse_identifier(k, v, max_length=MAX_GLUE_NAME - len("_prod")),
    "firehose_buffer_mb": lambda k, v: parse_int(k, v, 64, 128),  # conversion needs >= 64 MB
    "firehose_first_log_date": lambda k, v: parse_date(k, v, "1970-01-01", "2100-01-01"),
    "firehose_backup_days": lambda k, v: parse_int(k, v, 1, 3653),
    "lake_database": lambda k, v: parse_identifier(k, v, max_length=MAX_GLUE_NAME - len("_prod")),
    "lake_crawl_schedule": lambda k, v: parse_glue_cron(k, v),
    "lake_worker_type": lambda k, v: parse_choice(k, v, ("G.1X", "G.2X", "G.4X", "G.8X")),
    "lake_workers": lambda k, v: parse_int(k, v, 2, 299),
    "lake_query_results_days": lambda k, v: parse_int(k, v, 1, 3653),
    "lake_curated_versions_days": lambda k, v: parse_int(k, v, 1, 365),
    "lake_first_trade_date": lambda k, v: parse_date(k, v, "1970-01-01", "2100-01-01"),
    "lake_bytes_scanned_cutoff_mb": lambda k, v: parse_int(k, v, 10, 10_000_000),  # Athena: >= 10 MB
    "warehouse_node_type": lambda k, v: parse_choice(k, v, NODE_TYPES),
    "warehouse_nodes": lambda k, v: parse_int(k, v, 1, 128),
    "warehouse_database": lambda k, v: parse_identifier(k, v, max_length=64),
    "warehouse_port": lambda k, v: parse_int(k, v, 1150, 65535),  # Redshift's allowed port range
    "warehouse_snapshot_retention_days": lambda k, v: parse_int(k, v, 1, 35),
    "warehouse_load_trigger": lambda k, v: parse_load_trigger(k, v),
    "adtech_events_per_second": lambda k, v: parse_float(k, v, 0.001, 1_000_000),
    "adtech_event_size_kb": lambda k, v: parse_float(k, v, 0.001, 1024),   # 1 MB Kinesis record limit
    "adtech_retention_hours": lambda k, v: parse_int(k, v, 24, 8760),
    "adtech_attribution_minutes": lambda k, v: parse_int(k, v, 1, 60),
    "adtech_idle_timeout_seconds": lambda k, v: parse_int(k, v, 1, 3600),
    "adtech_parallelism": lambda k, v: parse_int(k, v, 1, 1000),
    "adtech_batch_size": lambda k, v: parse_int(k, v, 1, 10000),
    "adtech_prior_ctr": lambda k, v: parse_float(k, v, 0.0001, 0.5),
    "adtech_prior_impressions": lambda k, v: parse_float(k, v, 1, 1_000_000),
    "adtech_min_impressions": lambda k, v: parse_int(k, v, 0, 1_000_000),
    "adtech_exploration_share": lambda k, v: parse_float(k, v, 0, 0.5),
    "adtech_ranking_ttl_hours": lambda k, v: parse_int(k, v, 1, 8760),
    "adtech_fallback_ad": lambda k, v: parse_ad_id(k, v),
    "adtech_api_auth": lambda k, v: parse_choice(k, v, API_AUTH_MODES),
    "adtech_api_rate_per_second": lambda k, v: parse_int(k, v, 1, 10000),   # API Gateway's default account limit
    "adtech_api_burst": lambda k, v: parse_int(k, v, 1, 5000),              # ... and its burst limit
    "adtech_api_cache_seconds": lambda k, v: parse_int(k, v, 0, 300),
    "adtech_api_p99_ms": lambda k, v: parse_int(k, v, 1, 29000),            # API Gateway's 29 s timeout
    **CLICKSTREAM_PARSERS,   # StreamingLogAnalytics (refarch/streaming_log_settings.py)
    **price_parsers(), **cost_parsers(),   # the cost estimate's prices and expected load (refarch/costs/)
}
# prefix -> (Settings field, dataclass)
_GROUPS = {"iot_": ("iot", IotSettings), "firehose_": ("firehose", FirehoseSettings),
           "lake_": ("lake", LakeSettings), "warehouse_": ("warehouse", WarehouseSettings),
           "adtech_": ("adtech", AdTechSettings),
           "clickstream_": ("clickstream", StreamingLogSettings),
           "price_": ("prices", PriceSettings), "cost_": ("cost", CostSettings)}

SETTING_NAMES = tuple(_PARSERS)


def parse_replay_retention(setting: str, raw: Any) -> int:
    """The writer's failed batches reach their queue up to an hour old (the event source
    mapping's maximum record age); a day more is what an operator gets to replay them."""
    try:
        return parse_int(setting, raw, 25, 8760)
    except SettingError:
        raise SettingError(setting, raw, "25 to 8760 hours (the writer's 1 h maximum record age plus at "
                                         "least a day to replay failed batches)") from None


_AD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")   # the ad-tech job's and the API's rule


def parse_ad_id(setting: str, raw: Any) -> str:
    value = str(raw).strip()
    if not _AD_ID.match(value):
        raise SettingError(setting, raw, "1 to 128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)")
    return value


def parse_powertools_release(setting: str, raw: Any) -> str:
    if not re.fullmatch(r"3\.\d{1,3}\.\d{1,3}", str(raw).strip()):
        raise SettingError(setting, raw, "a Powertools for AWS Lambda (Python) v3 release, like "
                           f"{DEFAULT_POWERTOOLS_LAYER_VERSION} (its public SSM parameter names the layer)")
    return str(raw).strip()


def parse_azs(setting: str, raw: Any) -> int | tuple[str, ...]:
    """A count of zones (picked at deploy time), or the zones: names (us-east-1a) or ids (use1-az1)."""
    allowed = f"a whole number from 1 to {MAX_AZS}, or 1 to {MAX_AZS} zone names (us-east-1a,us-east-1b) or zone ids (use1-az1,use1-az2)"
    if isinstance(raw, int) or str(raw).strip().isdigit():
        return parse_int(setting, raw, 1, MAX_AZS)
    zones = tuple(z.strip() for z in (raw if isinstance(raw, (list, tuple)) else str(raw).split(",")) if z.strip())
    try:
        zone_kind(zones)
    except ValueError:
        raise SettingError(setting, raw, allowed) from None
    if not 1 <= len(zones) <= MAX_AZS or len(set(zones)) != len(zones):
        raise SettingError(setting, raw, allowed)
    return zones


def parse_load_trigger(setting: str, raw: Any) -> str:
    if str(raw).strip() == "after-etl":
        return "after-etl"
    try:
        return parse_glue_cron(setting, raw)
    except SettingError:
        raise SettingError(setting, raw, "after-etl or a six-field cron(...) expression") from None


def settings_from_context(context: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Validate the CDK context and the deploy environment into `Settings`."""
    environ = os.environ if environ is None else environ
    unknown = sorted(k for k in context if _OUR_KEY.match(k) and k not in _PARSERS)
    if unknown:
        raise SettingError(unknown[0], context[unknown[0]], "settings are " + ", ".join(SETTING_NAMES))
    values = {key: parse(key, context[key]) for key, parse in _PARSERS.items() if key in context}

    groups: dict[str, Any] = {}
    for prefix, (name, kind) in _GROUPS.items():
        mine = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
        groups[name] = kind(**mine)
        values = {k: v for k, v in values.items() if not k.startswith(prefix)}
    baseline_fields = BaselineSettings.__dataclass_fields__
    groups["baseline"] = BaselineSettings(**{k: v for k, v in values.items() if k in baseline_fields})
    if "interface_endpoints" in context:
        check_interface_endpoints("interface_endpoints", context["interface_endpoints"],
                                  groups["baseline"].interface_endpoints)
    top = {k: v for k, v in values.items() if k not in baseline_fields}
    if "patterns" in top:  # a pattern built on another brings it along, in catalogue order
        wanted = {BASELINE, *top["patterns"], *(base for p in top["patterns"] for base in REQUIRES.get(p, ()))}
        top["patterns"] = tuple(name for name in PATTERN_NAMES if name in wanted)
    warehouse = groups["warehouse"]
    if warehouse.nodes == 1 and warehouse.node_type not in SINGLE_NODE_TYPES:
        raise SettingError("warehouse_nodes", 1, f"2 to 128 for {warehouse.node_type} (one node only "
                           f"with {' or '.join(SINGLE_NODE_TYPES)})")
    account = environ.get("CDK_DEFAULT_ACCOUNT") or DUMMY_ACCOUNT
    region = environ.get("CDK_DEFAULT_REGION") or DUMMY_REGION
    zone_count = groups["baseline"].azs if isinstance(groups["baseline"].azs, int) else len(groups["baseline"].azs)
    check_streaming_log(groups["clickstream"], zone_count)
    zones = groups["baseline"].azs
    if not isinstance(zones, int) and zones_outside(region, zones):
        raise SettingError("azs", context["azs"], f"zones of the deploy region {region} "
                           f"(its zone ids start with {zone_id_prefix(region)}-)")
    # Glue database names are per account and region: with the stage in them, dev and prod coexist.
    stage = top.get("stage", Settings.stage)
    groups["lake"] = replace(groups["lake"], database=f"{groups['lake'].database}_{stage}")
    groups["firehose"] = replace(groups["firehose"], database=f"{groups['firehose'].database}_{stage}")
    return Settings(**top, **groups, account=account, region=region)
