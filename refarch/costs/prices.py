"""Unit prices of the cost estimate: settings (`-c price_<name>=<USD>`), with documented defaults.

The defaults are AWS's public on-demand list prices for us-east-1 (N. Virginia) as published
in mid-2025 (PRICES_READ), read from the services' pricing pages then and not re-read since:
prices differ by region and change over time, so set the ones you rely on. Free tiers are not
subtracted. OpenSearch instance-hours come from refarch.streaming_log_sizing.SEARCH_INSTANCES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from refarch.setting_parsers import parse_float

PRICES_REGION = "us-east-1"
PRICES_READ = "2025-06"


@dataclass(frozen=True)
class PriceSettings:
    """USD per unit; the comment is the unit."""

    kinesis_shard_hour: float = 0.015               # provisioned shard-hour
    kinesis_put_units_million: float = 0.014        # million PUT payload units (25 KB each)
    kinesis_extended_retention_shard_hour: float = 0.02   # shard-hour, retention over 24 h (to 7 days)
    kinesis_on_demand_stream_hour: float = 0.04     # on-demand stream-hour
    kinesis_on_demand_gb: float = 0.08              # GB written to an on-demand stream
    firehose_gb: float = 0.029                      # GB ingested by Direct PUT (records rounded to 5 KB)
    firehose_conversion_gb: float = 0.018           # GB converted to Parquet
    firehose_partitioning_gb: float = 0.02          # GB through dynamic partitioning
    firehose_objects_thousand: float = 0.005        # thousand S3 objects delivered by dynamic partitioning
    lambda_gb_second: float = 0.0000166667          # GB-second of x86 Lambda
    lambda_requests_million: float = 0.20           # million requests
    dynamodb_writes_million: float = 0.625          # million on-demand write request units
    dynamodb_reads_million: float = 0.125           # million on-demand read request units
    dynamodb_gb_month: float = 0.25                 # GB-month of table storage
    dynamodb_pitr_gb_month: float = 0.20            # GB-month of continuous backups
    endpoint_az_hour: float = 0.01                  # interface endpoint, per AZ, per hour
    flink_kpu_hour: float = 0.11                    # Managed Flink KPU-hour
    flink_storage_gb_month: float = 0.10            # running application storage (50 GB per KPU)
    glue_dpu_hour: float = 0.44                     # Glue job or crawler DPU-hour
    redshift_ra3_large_hour: float = 0.543          # node-hour
    redshift_ra3_xlplus_hour: float = 1.086
    redshift_ra3_4xlarge_hour: float = 3.26
    redshift_ra3_16xlarge_hour: float = 13.04
    redshift_managed_storage_gb_month: float = 0.024
    opensearch_storage_gb_month: float = 0.122      # gp3 GB-month
    s3_standard_gb_month: float = 0.023
    s3_it_frequent_gb_month: float = 0.023          # Intelligent-Tiering, frequent access tier
    s3_it_infrequent_gb_month: float = 0.0125       # ... after 30 days without access
    s3_it_archive_instant_gb_month: float = 0.004   # ... after 90 days without access
    s3_it_monitoring_thousand_objects: float = 0.0025
    s3_glacier_gb_month: float = 0.0036             # Glacier Flexible Retrieval
    athena_tb: float = 5.0                          # TB scanned
    kms_key_month: float = 1.0                      # customer-managed key
    secret_month: float = 0.40                      # Secrets Manager secret (Redshift's managed password)
    alarm_month: float = 0.10                       # standard-resolution alarm
    dashboard_month: float = 3.0
    cloudtrail_management_events: float = 0.0      # the first trail's copy of management events is free

    def redshift_node_hour(self, node_type: str) -> float:
        return getattr(self, f"redshift_{node_type.replace('.', '_')}_hour")


PRICE_NAMES = tuple(f.name for f in fields(PriceSettings))


def price_parsers() -> dict[str, Callable[[str, Any], Any]]:
    """`price_<name>` context keys: a price in USD, 0 up to 100,000."""
    return {f"price_{name}": (lambda k, v: parse_float(k, v, 0, 100_000)) for name in PRICE_NAMES}
