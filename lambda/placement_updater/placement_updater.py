"""CTR windows (Kinesis) -> placement rankings (DynamoDB): the Lambda entry point
`placement_updater.handler`.

A thin adapter: read the configuration, build the boto3 adapters once, hand the batch to
`process_batch` (placement_batch.py says what happens to each record) and return its
partial-batch response.

Environment (set by the stack):
  TABLE_NAME            placements table (placement_id S, TTL attribute expires_at)
  QUARANTINE_QUEUE_URL  SQS queue for records that are not CTR windows, with the reason
  PRIOR_CTR             the Beta prior's mean, between 0 and 1 (default 0.01)
  PRIOR_IMPRESSIONS     what the prior is worth, in impressions (default 100)
  MIN_IMPRESSIONS       impressions an ad needs in a window before its own rate counts (default 30)
  RANKING_TTL_HOURS     hours after its window's end that a ranking expires (default 24; 1-8760)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from placement_batch import BatchResult, StreamRecord, process_batch
from placement_scoring import ScoringRules
from placement_store import DynamoPlacementStore, SqsQuarantine

SERVICE = "placement-updater"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="refarch", service=SERVICE)
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


class ConfigError(ValueError):
    """An environment variable is missing or has a value the updater cannot use."""


@dataclass(frozen=True)
class UpdaterConfig:
    table_name: str
    quarantine_queue_url: str
    rules: ScoringRules
    ttl_hours: int


def load_config(environ: Mapping[str, str]) -> UpdaterConfig:
    def required(name: str, meaning: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"environment variable {name} is not set: expected {meaning}")
        return value

    def number(name: str, default: str, kind: type, low: float, high: float) -> Any:
        raw = environ.get(name, "").strip() or default
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ConfigError(f"{name}={raw!r}: expected a number from {low:g} to {high:g}")
        return value

    table = required("TABLE_NAME", "the DynamoDB placements table name")
    queue = required("QUARANTINE_QUEUE_URL", "the quarantine SQS queue URL")
    if not queue.startswith(("https://", "http://")):
        raise ConfigError(f"QUARANTINE_QUEUE_URL={queue!r}: expected an SQS queue URL (https://...)")
    rules = ScoringRules(prior_ctr=number("PRIOR_CTR", "0.01", float, 0.0001, 0.5),
                         prior_impressions=number("PRIOR_IMPRESSIONS", "100", float, 1, 1_000_000),
                         min_impressions=number("MIN_IMPRESSIONS", "30", int, 0, 1_000_000))
    return UpdaterConfig(table, queue, rules, number("RANKING_TTL_HOURS", "24", int, 1, 8760))


@dataclass(frozen=True)
class Wiring:
    store: DynamoPlacementStore
    quarantine: SqsQuarantine


@lru_cache(maxsize=1)
def _wiring(config: UpdaterConfig, region: str | None) -> Wiring:
    session = boto3.Session(region_name=region)
    return Wiring(DynamoPlacementStore(session.client("dynamodb", config=_CLIENT_CONFIG), config.table_name),
                  SqsQuarantine(session.client("sqs", config=_CLIENT_CONFIG), config.quarantine_queue_url))


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    # Checked before the metrics wrapper runs, so a bad configuration fails with its own message.
    config = load_config(os.environ)
    return _handle(event, context, config)


@metrics.log_metrics
@logger.inject_lambda_context
def _handle(event: dict[str, Any], context: Any, config: UpdaterConfig) -> dict[str, list[dict[str, str]]]:
    wiring = _wiring(config, os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    records = [StreamRecord.from_event(r) for r in event.get("Records", [])]
    result = process_batch(records, wiring.store, wiring.quarantine, rules=config.rules, ttl_hours=config.ttl_hours)
    _report(result, len(records))
    return result.response()


def _report(result: BatchResult, received: int) -> None:
    counts = {"WindowsReceived": received, "RankingsReplaced": result.writes["replaced"],
              "RankingsMerged": result.writes["merged"], "RedeliveredWindows": result.writes["unchanged"],
              "StaleWindowsRejected": result.writes["stale"], "WindowsSuperseded": result.records["superseded"],
              "WindowsWithoutImpressions": result.records["no_impressions"],
              "RecordsQuarantined": result.quarantined, "RecordsFailed": len(result.failed_sequence_numbers)}
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = counts | {"quarantined_by_reason": dict(result.quarantined_by_reason)}
    if result.failed_sequence_numbers:
        logger.warning("batch partly failed; Lambda will redeliver from the first failure", extra=summary)
    else:
        logger.info("batch processed", extra=summary)
