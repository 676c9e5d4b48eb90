"""Firehose data-transformation Lambda: Apache access-log lines -> newline-delimited JSON.

The work is done by pure functions (log_transform_parse, log_transform_fast,
log_transform_batch); this module adapts them to Lambda: logging, metrics, and re-ingesting
the records that do not fit in the 6 MB response.

Re-ingestion puts the overflow's original lines back into the delivery stream with
PutRecordBatch, so they are transformed in a later, smaller invocation; the function's
role needs firehose:PutRecordBatch on its own delivery stream. A record is returned as
Dropped only once Firehose has accepted it again; one still rejected after the retries,
or refused outright (no permission), comes back ProcessingFailed with its original data,
to the error prefix. A delivery stream fed by a Kinesis data stream does not accept
PutRecordBatch, so there the overflow goes straight to ProcessingFailed. Delivery is at
least once: if the invocation dies after re-ingesting, Firehose retries the whole batch.

Environment: FIRST_LOG_DATE (YYYY-MM-DD), the first day the access-log table projects; a
line dated before it (or after the day following its arrival) goes to dt=undated.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from log_transform_partition import DEFAULT_FIRST_DAY, Partitioner
from log_transform_batch import (
    RESPONSE_BUDGET_BYTES,
    delivery_stream_name,
    dropped_entry,
    original_line,
    put_batches,
    transform_batch,
)

logger = Logger(service="log_transform")
metrics = Metrics(namespace="refarch", service="log_transform")

REINGEST_ATTEMPTS = 3  # one call plus two retries of the records Firehose rejected
REINGEST_BACKOFF_SECONDS = 0.2


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    partitioner = Partitioner(os.environ.get("FIRST_LOG_DATE") or DEFAULT_FIRST_DAY)
    outcome = transform_batch(event["records"], RESPONSE_BUDGET_BYTES, partitioner)
    records = outcome.records
    reingested: list[int] = []
    if outcome.overflow and "sourceKinesisStreamArn" not in event:
        accepted = reingest(event["deliveryStreamArn"], event["region"],
                            [original_line(event["records"][position])
                             for position in outcome.overflow])
        reingested = [outcome.overflow[index] for index in sorted(accepted)]
        for position in reingested:
            records[position] = dropped_entry(records[position]["recordId"])

    # ProcessingFailed = RecordsFailed (did not parse) + RecordsOverflow - RecordsReingested
    counts = {
        "RecordsOk": outcome.parsed - len(outcome.overflow),
        "RecordsFailed": len(records) - outcome.parsed,
        "RecordsOverflow": len(outcome.overflow),
        "RecordsReingested": len(reingested),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("batch transformed", extra={**counts, "records": len(records),
                                            "failure_reasons": dict(outcome.failure_reasons)})
    return {"records": records}


def reingest(stream_arn: str, region: str, lines: list[bytes]) -> set[int]:
    """Put `lines` back into the delivery stream; the indexes Firehose accepted."""
    client = firehose_client(region)
    stream = delivery_stream_name(stream_arn)
    pending = list(range(len(lines)))
    for attempt in range(REINGEST_ATTEMPTS):
        if attempt:
            time.sleep(REINGEST_BACKOFF_SECONDS * 2 ** (attempt - 1))
        pending = _put(client, stream, lines, pending)
        if not pending:
            break
    if pending:
        logger.warning("records not re-ingested; returned as ProcessingFailed",
                       extra={"records": len(pending), "stream": stream})
    return set(range(len(lines))) - set(pending)


def _put(client, stream: str, lines: list[bytes], pending: list[int]) -> list[int]:
    """One PutRecordBatch pass over `pending`; the indexes still not accepted."""
    rejected: list[int] = []
    for batch in put_batches([lines[index] for index in pending]):
        indexes = [pending[position] for position in batch]
        try:
            response = client.put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": lines[index]} for index in indexes])
        except (BotoCoreError, ClientError) as error:
            # botocore has already retried throttling; what is left is not ours to fix here.
            logger.warning("PutRecordBatch failed", extra={"error": str(error)})
            rejected.extend(indexes)
            continue
        if response["FailedPutCount"]:
            rejected.extend(index for index, answer in zip(indexes, response["RequestResponses"])
                            if "ErrorCode" in answer)
    return rejected


@lru_cache(maxsize=None)
def firehose_client(region: str):
    # Created on the first overflow only: most invocations never call Firehose.
    return boto3.client("firehose", region_name=region)
