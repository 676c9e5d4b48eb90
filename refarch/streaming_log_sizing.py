"""StreamingLogAnalytics sizing from expected load: shards, Flink KPUs, the search domain,
and the monthly cost of each (what `refarch cost` prints).

Search storage follows AWS's sizing guide for OpenSearch Service: source data per day x
retention x (1 + replicas) x 1.45 (index overhead ~10%, the OS's reserved space 5%,
the service's 20% for segment merges, logs and other internal operations), spread over
enough data nodes that none exceeds its type's largest EBS volume, with at least one node
per copy of a shard, and a multiple of the availability zones when the domain spans them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from refarch.sizing import HOURS_PER_MONTH, StreamLoad, monthly_stream_cost, shards_for

SEARCH_OVERHEAD = 1.45
# OpenSearch instance types: (largest gp3 volume per node in GB, us-east-1 on-demand USD per hour).
SEARCH_INSTANCES: dict[str, tuple[int, float]] = {
    "t3.small.search": (100, 0.036),
    "t3.medium.search": (200, 0.073),
    "m6g.large.search": (512, 0.128),
    "r6g.large.search": (1024, 0.167),
    "r6g.xlarge.search": (1536, 0.335),
    "r6g.2xlarge.search": (3072, 0.670),
}
MIN_VOLUME_GB = 10
MAX_SEARCH_NODES = 80
# Managed Flink bills one extra KPU per application (orchestration), beyond the job's own.
FLINK_ORCHESTRATION_KPUS = 1


@dataclass(frozen=True)
class SearchSize:
    instance_type: str
    nodes: int
    volume_gb: int
    storage_gb: float           # what the retention needs, overhead and replicas included

    @property
    def zones(self) -> int:
        return min(self.nodes, 3)


def source_gb_per_day(events_per_second: float, event_size_kb: float) -> float:
    return events_per_second * event_size_kb * 86_400 / 1024 / 1024


def search_size(events_per_second: float, event_size_kb: float, *, retention_days: int, replicas: int,
                instance_type: str, azs: int) -> SearchSize:
    if instance_type not in SEARCH_INSTANCES:
        raise ValueError(f"instance_type={instance_type!r}: allowed {', '.join(SEARCH_INSTANCES)}")
    max_volume, _ = SEARCH_INSTANCES[instance_type]
    storage = source_gb_per_day(events_per_second, event_size_kb) * retention_days * (1 + replicas) * SEARCH_OVERHEAD
    nodes = max(math.ceil(storage / max_volume), 1 + replicas)
    if azs > 1 and nodes > 1:
        zones = min(azs, 3)
        nodes = math.ceil(nodes / zones) * zones
    if nodes > MAX_SEARCH_NODES:
        raise ValueError(f"{storage:,.0f} GB of search storage needs {nodes} {instance_type} nodes, more than "
                         f"{MAX_SEARCH_NODES}: choose a larger instance type or a shorter retention")
    volume = max(MIN_VOLUME_GB, math.ceil(storage / nodes))
    return SearchSize(instance_type, nodes, volume, storage)


def flink_parallelism(events_per_second: float, events_per_kpu: float) -> int:
    """Parallel tasks (one KPU each) for the expected rate, at least 1."""
    return max(1, math.ceil(events_per_second / events_per_kpu))


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: str
    monthly_usd: float


def monthly_costs(*, events_per_second: float, event_size_kb: float, search: SearchSize, parallelism: int,
                  raw_shards: int, clean_shards: int, kpu_hour_usd: float, search_gb_month_usd: float,
                  firehose_gb_usd: float, shard_hour_usd: float, put_units_per_million_usd: float) -> list[CostLine]:
    """One line per billed part of the pattern (list prices; API Gateway and S3 not included)."""
    load = StreamLoad(events_per_second, event_size_kb)
    streams = [monthly_stream_cost(load, shards=shards, shard_hour_usd=shard_hour_usd,
                                   put_units_per_million_usd=put_units_per_million_usd)
               for shards in (raw_shards, clean_shards)]
    kpus = parallelism + FLINK_ORCHESTRATION_KPUS
    _, instance_hour = SEARCH_INSTANCES[search.instance_type]
    gb_month = source_gb_per_day(events_per_second, event_size_kb) * 30
    deliveries = 2   # the clean events to the lake and to the search domain (windows and dead letters are small)
    return [
        CostLine("Kinesis: events + clean streams", f"{raw_shards} + {clean_shards} shards",
                 sum(s.monthly_usd for s in streams)),
        CostLine("Managed Flink", f"{kpus} KPUs ({parallelism} + 1 orchestration)",
                 kpus * HOURS_PER_MONTH * kpu_hour_usd),
        CostLine("OpenSearch data nodes", f"{search.nodes} x {search.instance_type}",
                 search.nodes * HOURS_PER_MONTH * instance_hour),
        CostLine("OpenSearch storage", f"{search.nodes} x {search.volume_gb} GB gp3",
                 search.nodes * search.volume_gb * search_gb_month_usd),
        CostLine("Firehose ingestion", f"{gb_month * deliveries:,.1f} GB", gb_month * deliveries * firehose_gb_usd),
    ]


def stream_shards(events_per_second: float, event_size_kb: float, consumers: int) -> int:
    return shards_for(StreamLoad(events_per_second, event_size_kb, consumers))
