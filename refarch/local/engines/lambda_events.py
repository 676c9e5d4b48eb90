"""The events AWS services send a Lambda function, built from what a local run has in hand, so
the real handlers are called with the shapes they receive when deployed."""

from __future__ import annotations

import base64
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
