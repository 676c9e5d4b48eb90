"""The catalogue of patterns: what each stack is and what it deploys.

Only metadata lives here, so settings and the CLI can list patterns without
importing CDK. `refarch.application` maps each name to the stack that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    name: str
    summary: str
    deploys: tuple[str, ...]


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "SecurityBaseline",
        "Shared security foundation every other stack builds on",
        ("customer-managed KMS keys (data, audit) with rotation",
         "VPC with isolated subnets only, no NAT",
         "S3 + DynamoDB gateway endpoints, interface endpoints",
         "VPC flow logs to an encrypted log group",
         "S3 access-log bucket",
         "multi-region CloudTrail with log-file validation, KMS-encrypted"),
    ),
    Pattern(
        "IotTelemetry",
        "Device telemetry into DynamoDB in real time, with threshold alerts",
        ("IoT Core topic rule devices/+/telemetry -> Kinesis (errors kept in S3)",
         "Kinesis stream encrypted with the data key, shards sized from expected load",
         "writer Lambda: validate, dedupe, batch-write, quarantine, alert",
         "DynamoDB table (device_id, ts) with TTL and point-in-time recovery",
         "SNS alert topic, ops topic, CloudWatch dashboard and alarms"),
    ),
    Pattern(
        "FirehoseParquet",
        "Web access logs converted to Parquet on the way into S3",
        ("Direct-PUT Firehose, encrypted with the data key",
         "transform Lambda: Apache common/combined log lines -> typed JSON",
         "record-format conversion to Parquet (Snappy) against a Glue table",
         "S3 output in dt=YYYY-MM-DD partitions, errors/ prefix, raw/ source backup",
         "Glue database and table with partition projection; alarms"),
    ),
    Pattern(
        "BatchDataLake",
        "Batch lake: raw CSV curated to partitioned Parquet by Spark, queried by Athena",
        ("raw and curated S3 zones with tiering lifecycles",
         "Glue database, raw-zone crawler, security configuration (KMS for S3, logs, bookmarks)",
         "Glue 5.0 Spark job jobs/glue/trades_etl.py: dedupe, cast, reject with reasons",
         "workflow: scheduled crawl -> ETL -> register rejected-row partitions",
         "Athena workgroup (enforced, engine v3, encrypted results, scan cutoff) and named queries"),
    ),
    Pattern(
        "RedshiftWarehouse",
        "Private Redshift loaded from the curated lake, querying the lake in place with Spectrum",
        ("RA3 cluster in isolated subnets: KMS, enhanced VPC routing, SSL only, not public",
         "audit logs to encrypted log groups; admin password managed in Secrets Manager",
         "role scoped to the curated prefixes and the lake's Glue database (COPY + Spectrum)",
         "setup at deploy, as the admin: DDL, the loader's own database user and exactly its grants",
         "loader Lambda, as that user: the load batch through the Data API, after each lake ETL run",
         "alarms: CPU, disk, health, loader failures (uses BatchDataLake's bucket and catalog)"),
    ),
    Pattern(
        "StreamingLogAnalytics",
        "Clickstream from websites, validated and windowed by Flink SQL, into the lake, OpenSearch and Redshift",
        ("collection API: API Gateway REST -> Kinesis PutRecords (JSON-schema model, batch limit, "
         "throttling, CORS, access logs)",
         "Flink SQL (FLINK-1_20): validation with reasons to dead letters, de-duplication, page views "
         "(tumbling), 5xx rate (sliding), sessions, 5xx alerts, late records flagged",
         "Firehose from the streams -> Parquet lake by event date, with Glue tables and Athena queries",
         "OpenSearch in the isolated subnets (FGAC, KMS, TLS 1.2) fed by Firehose in the VPC; index "
         "template and ISM retention applied at deploy",
         "Redshift streaming ingestion: an auto-refreshing materialized view over the clean stream",
         "alarms: API rejects, Flink, deliveries, domain health, storage and JVM pressure"),
    ),
    Pattern(
        "AdTech",
        "Real-time ad placement: CTR windows from ad events rank each placement's ads, closing the loop",
        ("Kinesis stream for impressions and clicks (shards from expected load); ad-server role and policy",
         "Flink SQL (FLINK-1_20): validation to a dead-letter stream, click de-duplication, "
         "interval-join attribution, CTR per placement and ad (sliding)",
         "placement updater Lambda: Beta-smoothed ranking, conditional monotonic writes to DynamoDB (TTL)",
         "placement API: API Gateway (IAM or API key, throttled, access logs) -> Lambda, one read + cache",
         "loop dashboard; alarms on ingest, Flink, updater, dead letters, API 5xx and p99 latency"),
    ),
)
# Patterns that build on another pattern's resources; selecting one selects its base.
REQUIRES = {"RedshiftWarehouse": ("BatchDataLake",),
            # its warehouse sink is RedshiftWarehouse's cluster; its Athena queries use the lake's workgroup
            "StreamingLogAnalytics": ("BatchDataLake", "RedshiftWarehouse")}

PATTERN_NAMES: tuple[str, ...] = tuple(p.name for p in PATTERNS)
BASELINE = "SecurityBaseline"


def stack_name(stage: str, pattern: str) -> str:
    """The CloudFormation name of a pattern's stack in a stage (two stages coexist in an account)."""
    return f"refarch-{stage}-{pattern}"
