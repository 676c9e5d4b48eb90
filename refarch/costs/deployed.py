"""What a stack costs for being deployed, read from its synthesized template: the resources
billed by the hour or the month whatever flows through them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from refarch.costs.model import DAYS_PER_MONTH, HOURS_PER_MONTH, LineItem
from refarch.costs.prices import PriceSettings
from refarch.streaming_log_sizing import SEARCH_INSTANCES

FLINK_ORCHESTRATION_KPUS = 1      # Managed Flink bills one more KPU per application
FLINK_STORAGE_GB_PER_KPU = 50     # running application storage that comes with each KPU


def resources(template: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == kind:
            yield resource.get("Properties", {})


def deployed_items(template: dict[str, Any], prices: PriceSettings) -> list[LineItem]:
    items = [*_streams(template, prices), *_endpoints(template, prices), *_flink(template, prices),
             *_redshift(template, prices), *_search(template, prices)]
    counted = [("AWS::KMS::Key", "KMS customer-managed keys", "key-month", prices.kms_key_month),
               ("AWS::CloudWatch::Alarm", "CloudWatch alarms", "alarm-month", prices.alarm_month),
               ("AWS::CloudWatch::Dashboard", "CloudWatch dashboards", "dashboard-month", prices.dashboard_month),
               ("AWS::CloudTrail::Trail", "CloudTrail management events (first copy free)", "trail",
                prices.cloudtrail_management_events)]
    for kind, item, unit, price in counted:
        count = sum(1 for _ in resources(template, kind))
        if count:
            items.append(LineItem(item, count, unit, price, f"{count} in the template"))
    return items


def _streams(template: dict[str, Any], prices: PriceSettings) -> Iterator[LineItem]:
    shards = extended = on_demand = 0
    for stream in resources(template, "AWS::Kinesis::Stream"):
        if stream.get("StreamModeDetails", {}).get("StreamMode") == "ON_DEMAND":
            on_demand += 1
            continue
        shards += stream.get("ShardCount", 1)
        if stream.get("RetentionPeriodHours", 24) > 24:
            extended += stream.get("ShardCount", 1)
    if shards:
        yield LineItem("Kinesis shard-hours", shards * HOURS_PER_MONTH, "shard-hour", prices.kinesis_shard_hour,
                       f"{shards} shards x {HOURS_PER_MONTH} h")
    if extended:
        yield LineItem("Kinesis extended retention", extended * HOURS_PER_MONTH, "shard-hour",
                       prices.kinesis_extended_retention_shard_hour,
                       f"{extended} shards kept over 24 h x {HOURS_PER_MONTH} h")
    if on_demand:
        yield LineItem("Kinesis on-demand stream-hours", on_demand * HOURS_PER_MONTH, "stream-hour",
                       prices.kinesis_on_demand_stream_hour, f"{on_demand} streams x {HOURS_PER_MONTH} h")


def _endpoints(template: dict[str, Any], prices: PriceSettings) -> Iterator[LineItem]:
    interface = [e for e in resources(template, "AWS::EC2::VPCEndpoint") if e.get("VpcEndpointType") == "Interface"]
    if interface:
        zones = [len(e.get("SubnetIds", [])) or 1 for e in interface]
        yield LineItem("VPC interface endpoint hours", sum(zones) * HOURS_PER_MONTH, "endpoint-AZ-hour",
                       prices.endpoint_az_hour,
                       f"{len(interface)} endpoints x {max(zones)} AZs x {HOURS_PER_MONTH} h")


def _flink(template: dict[str, Any], prices: PriceSettings) -> Iterator[LineItem]:
    kpus = storage_kpus = 0
    for app in resources(template, "AWS::KinesisAnalyticsV2::Application"):
        config = app.get("ApplicationConfiguration", {}).get("FlinkApplicationConfiguration", {})
        parallelism = config.get("ParallelismConfiguration", {})
        tasks = math.ceil(parallelism.get("Parallelism", 1) / parallelism.get("ParallelismPerKPU", 1))
        kpus += tasks + FLINK_ORCHESTRATION_KPUS
        storage_kpus += tasks
    if kpus:
        yield LineItem("Managed Flink KPU-hours", kpus * HOURS_PER_MONTH, "KPU-hour", prices.flink_kpu_hour,
                       f"{kpus} KPUs (with 1 orchestration KPU per application) x {HOURS_PER_MONTH} h")
        yield LineItem("Managed Flink running storage", storage_kpus * FLINK_STORAGE_GB_PER_KPU, "GB-month",
                       prices.flink_storage_gb_month, f"{FLINK_STORAGE_GB_PER_KPU} GB x {storage_kpus} KPUs")


def _redshift(template: dict[str, Any], prices: PriceSettings) -> Iterator[LineItem]:
    for cluster in resources(template, "AWS::Redshift::Cluster"):
        nodes = 1 if cluster.get("ClusterType") == "single-node" else cluster.get("NumberOfNodes", 1)
        node_type = cluster["NodeType"]
        yield LineItem(f"Redshift {node_type} node-hours", nodes * HOURS_PER_MONTH, "node-hour",
                       prices.redshift_node_hour(node_type), f"{nodes} nodes x {HOURS_PER_MONTH} h")
        if cluster.get("ManageMasterPassword"):
            yield LineItem("Secrets Manager secret (admin password)", 1, "secret-month", prices.secret_month,
                           "the password Redshift keeps and rotates")


def _search(template: dict[str, Any], prices: PriceSettings) -> Iterator[LineItem]:
    for domain in resources(template, "AWS::OpenSearchService::Domain"):
        cluster = domain.get("ClusterConfig", {})
        nodes, kind = cluster.get("InstanceCount", 1), cluster.get("InstanceType", "r6g.large.search")
        yield LineItem(f"OpenSearch {kind} instance-hours", nodes * HOURS_PER_MONTH, "instance-hour",
                       SEARCH_INSTANCES[kind][1], f"{nodes} data nodes x {HOURS_PER_MONTH} h")
        if cluster.get("DedicatedMasterEnabled"):
            masters, master_kind = cluster.get("DedicatedMasterCount", 3), cluster["DedicatedMasterType"]
            yield LineItem(f"OpenSearch {master_kind} master-hours", masters * HOURS_PER_MONTH, "instance-hour",
                           SEARCH_INSTANCES[master_kind][1], f"{masters} dedicated masters x {HOURS_PER_MONTH} h")
        volume = domain.get("EBSOptions", {}).get("VolumeSize", 0)
        if volume:
            yield LineItem("OpenSearch storage", nodes * volume, "GB-month", prices.opensearch_storage_gb_month,
                           f"{nodes} x {volume} GB gp3")


_FIELD = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")
_WEEKDAYS = {"MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6, "SUN": 7}


def runs_per_month(schedule: str) -> float:
    """How often a Glue/EventBridge cron(...) fires in a month (minute and hour lists and
    ranges, day-of-month and day-of-week lists and ranges; `*/n` steps)."""
    match = _FIELD.match(schedule.strip())
    if not match:
        raise ValueError(f"schedule {schedule!r}: expected cron(minutes hours day-of-month month day-of-week year)")
    minute, hour, day_of_month, _, day_of_week, _ = match.groups()
    per_day = _count(minute, 60) * _count(hour, 24)
    if day_of_month not in ("*", "?"):
        days = _count(day_of_month, 31) * DAYS_PER_MONTH / 31
    elif day_of_week not in ("*", "?"):
        days = _count(re.sub(r"[A-Z]{3}", lambda m: str(_WEEKDAYS[m.group(0)]), day_of_week), 7) * DAYS_PER_MONTH / 7
    else:
        days = DAYS_PER_MONTH
    return per_day * days


def _count(field: str, size: int) -> int:
    total = 0
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?"):
            first, last = 0, size - 1
        elif "-" in base:
            first, last = (int(x) for x in base.split("-"))
        else:
            first = last = int(base)
        total += len(range(first, last + 1, int(step or 1)))
    return total
