"""The events AWS services send a Lambda function, built from what a local run has in hand, so
the real handlers are called with the shapes they receive when deployed."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

REGION = "us-east-1"


def kinesis_event(records: list[dict[str, Any]], *, shard_id: str, stream_arn: str, role_arn: str,
                  region: str = REGION) -> dict:
    """What Lambda's event source mapping delivers for `records` (GetRecords entries) of one shard."""
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"{shard_id}:{r['SequenceNumber']}", "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn, "awsRegion": region, "eventSourceARN": stream_arn,
    } for r in records]}


def kinesis_producer_event(records: Sequence[tuple[str, bytes]], *, first_sequence: int,
                           shard_id: str = "shardId-000000000000") -> dict:
    """A Kinesis event for (partition key, data) records as a producer put them, numbered from
    `first_sequence`: the fields a stream consumer reads, without a stream behind them."""
    events = []
    for offset, (key, data) in enumerate(records):
        sequence = f"{first_sequence + offset:056d}"
        events.append({"kinesis": {"partitionKey": key, "sequenceNumber": sequence,
                                   "data": base64.b64encode(data).decode(), "approximateArrivalTimestamp": 0.0},
                       "eventSource": "aws:kinesis", "eventID": f"{shard_id}:{sequence}"})
    return {"Records": events}


def api_gateway_event(method: str, resource: str, path_parameters: Mapping[str, str],
                      query: Mapping[str, str]) -> dict:
    """A REST API (API Gateway v1) proxy event with the fields a handler reads."""
    return {"resource": resource, "httpMethod": method, "pathParameters": dict(path_parameters),
            "queryStringParameters": dict(query)}


def firehose_event(records: Sequence[tuple[bytes, datetime]], *, first_index: int, stream_arn: str,
                   region: str = REGION) -> dict:
    """A Firehose data-transformation event for (data, arrival time) records, as the service sends
    it to the processor; record ids count from `first_index`."""
    return {
        "invocationId": f"local-{first_index}",
        "deliveryStreamArn": stream_arn,
        "region": region,
        "records": [{
            "recordId": f"{first_index + offset:08d}",
            "approximateArrivalTimestamp": int(arrival.timestamp() * 1000),
            "data": base64.b64encode(data).decode(),
        } for offset, (data, arrival) in enumerate(records)],
    }
