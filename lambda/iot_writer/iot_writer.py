"""Kinesis (IoT telemetry) -> DynamoDB writer: the Lambda entry point `iot_writer.handler`.

A thin adapter: read the configuration, build the boto3 adapters once per configuration,
hand the batch to `process_batch` and return its partial-batch response. See
iot_writer_batch for what happens to each record and why.

Environment (set by the CDK construct):
  TABLE_NAME            readings table (device_id S / ts S, TTL attribute expires_at)
  QUARANTINE_QUEUE_URL  SQS queue for malformed and conflicting records, with the reason
  ALERT_TOPIC_ARN       SNS topic for threshold alerts
  ALERT_RULES           JSON list, "[]" for none: [{"metric": "temperature", "op": ">", "value": 80}]
                        (metric: temperature | humidity | battery; op: > >= < <=)
  TTL_DAYS              days a reading is kept, counted from its ts (default 30; 1-3650)
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

from iot_writer_aws import DynamoReadingStore, SnsAlerts, SqsQuarantine
from iot_writer_batch import BatchResult, StreamRecord, process_batch
from iot_writer_schema import AlertRule, parse_alert_rules

SERVICE = "iot-writer"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="refarch", service=SERVICE)

TTL_DAYS_DEFAULT = 30
TTL_DAYS_RANGE = (1, 3650)
# botocore retries throttling itself a little; the event source mapping retries the rest.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=3, read_timeout=10)


class ConfigError(ValueError):
    """An environment variable is missing or has a value the writer cannot use."""


@dataclass(frozen=True)
class WriterConfig:
    table_name: str
    quarantine_queue_url: str
    alert_topic_arn: str
    alert_rules: tuple[AlertRule, ...]
    ttl_days: int


def load_config(environ: Mapping[str, str]) -> WriterConfig:
    """Read and check the environment; a ConfigError names the variable and what is allowed."""
    def required(name: str, meaning: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"environment variable {name} is not set: expected {meaning}")
        return value

    table_name = required("TABLE_NAME", "the DynamoDB readings table name")
    queue_url = required("QUARANTINE_QUEUE_URL", "the quarantine SQS queue URL")
    if not queue_url.startswith(("https://", "http://")):
        raise ConfigError(f"QUARANTINE_QUEUE_URL={queue_url!r}: expected an SQS queue URL (https://...)")
    topic_arn = required("ALERT_TOPIC_ARN", "the alert SNS topic ARN")
    if not (topic_arn.startswith("arn:") and ":sns:" in topic_arn):
        raise ConfigError(f"ALERT_TOPIC_ARN={topic_arn!r}: expected an SNS topic ARN (arn:aws:sns:...)")
    rules_text = required("ALERT_RULES", 'a JSON list such as [{"metric": "temperature", "op": ">", "value": 80}]')
    try:
        rules = parse_alert_rules(rules_text)
    except ValueError as error:
        raise ConfigError(f"ALERT_RULES is not valid: {error}") from None
    raw_ttl = environ.get("TTL_DAYS", "").strip() or str(TTL_DAYS_DEFAULT)
    low, high = TTL_DAYS_RANGE
    if not (raw_ttl.isascii() and raw_ttl.isdigit()) or not low <= int(raw_ttl) <= high:
        raise ConfigError(f"TTL_DAYS={raw_ttl!r}: expected a whole number of days from {low} to {high}")
    return WriterConfig(table_name, queue_url, topic_arn, rules, int(raw_ttl))


@dataclass(frozen=True)
class Wiring:
    store: DynamoReadingStore
    quarantine: SqsQuarantine
    alerts: SnsAlerts


@lru_cache(maxsize=1)
def _wiring(config: WriterConfig, region: str | None) -> Wiring:
    # Built on the first invocation and reused while the configuration stays the same.
    session = boto3.Session(region_name=region)
    def client(service: str) -> Any:
        return session.client(service, config=_CLIENT_CONFIG)
    return Wiring(DynamoReadingStore(client("dynamodb"), config.table_name, ttl_days=config.ttl_days),
                  SqsQuarantine(client("sqs"), config.quarantine_queue_url),
                  SnsAlerts(client("sns"), config.alert_topic_arn))


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    # Checked before the metrics wrapper runs: a bad configuration fails with its own
    # message (naming the variable), not with a warning about an empty metric set.
    config = load_config(os.environ)
    return _handle(event, context, config)


@metrics.log_metrics
@logger.inject_lambda_context
def _handle(event: dict[str, Any], context: Any, config: WriterConfig) -> dict[str, list[dict[str, str]]]:
    wiring = _wiring(config, os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    records = [StreamRecord.from_event(record) for record in event.get("Records", [])]
    result = process_batch(records, wiring.store, wiring.quarantine, wiring.alerts, rules=config.alert_rules)
    _report(result, len(records))
    return result.response()


def _report(result: BatchResult, received: int) -> None:
    counts = {"RecordsReceived": received, "ReadingsWritten": result.written,
              "DuplicatesSkipped": result.duplicates, "ReadingsConflicting": result.conflicts,
              "RecordsQuarantined": result.quarantined,
              "RecordsFailed": len(result.failed_sequence_numbers),
              "AlertsPublished": result.alerts_published}
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = counts | {"quarantined_by_reason": result.quarantined_by_reason}
    if result.failed_sequence_numbers:
        logger.warning("batch partly failed; Lambda will redeliver from the first failure", extra=summary)
    else:
        logger.info("batch processed", extra=summary)
