"""What a local run's driver does against the AWS APIs, under moto (`mock_aws`): put records on a
stream as a producer does, read shards as the event source mapping polls them, empty a queue,
scan a table, count the calls a handler makes. Each takes a boto3 session or client."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

PUT_RECORDS_LIMIT = 500   # records per PutRecords call (our records are far below its 5 MiB)


def put_records(kinesis: Any, stream: str, records: list[tuple[str, bytes]], attempts: int = 5) -> int:
    """(partition key, data) records put in order, 500 a call, retrying the entries Kinesis
    rejected; returns how many were accepted."""
    sent = 0
    for start in range(0, len(records), PUT_RECORDS_LIMIT):
        pending = records[start:start + PUT_RECORDS_LIMIT]
        for _ in range(attempts):
            response = kinesis.put_records(StreamName=stream, Records=[
                {"PartitionKey": key, "Data": data} for key, data in pending])
            rejected = [record for record, result in zip(pending, response["Records"], strict=True)
                        if "ErrorCode" in result]
            sent += len(pending) - len(rejected)
            pending = rejected
            if not pending:
                break
        if pending:
            raise RuntimeError(f"{len(pending)} records were still rejected by PutRecords")
    return sent


def shard_batches(kinesis: Any, stream: str, batch_size: int) -> Iterator[tuple[str, list[dict]]]:
    """Each shard read from TRIM_HORIZON in batches, as the event source mapping polls."""
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=batch_size)
            if not page["Records"]:
                break
            yield shard["ShardId"], page["Records"]
            iterator = page.get("NextShardIterator")


def drain(sqs: Any, queue_url: str) -> list[dict]:
    """Every message waiting in a queue, parsed as JSON, and deleted."""
    messages = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages


def scan(dynamodb: Any, table: str) -> list[dict]:
    """Every item of a table, in the low-level client's attribute-value form."""
    paginator = dynamodb.get_paginator("scan")
    return [item for page in paginator.paginate(TableName=table) for item in page["Items"]]


class count_calls:
    """Counts the calls of one API operation (e.g. GetItem) any botocore client makes while active."""

    def __init__(self, operation: str) -> None:
        from botocore.client import BaseClient
        self.count, self._base = 0, BaseClient
        self._original = BaseClient._make_api_call
        outer = self

        def counting(client: Any, name: str, params: Mapping[str, Any]) -> Any:
            if name == operation:
                outer.count += 1
            return outer._original(client, name, params)
        BaseClient._make_api_call = counting

    def stop(self) -> None:
        self._base._make_api_call = self._original
