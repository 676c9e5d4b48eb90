"""IoT writer throughput and DynamoDB request cost, under moto.

    python benchmarks/iot_writer.py        (from the repository root)

The writer's `process_batch` with the real boto3 DynamoDB adapter, against a per-record
PutItem baseline on the same 10,000 readings, in the same run. Timings are moto's
(in-process, no network), so the portable figure is DynamoDB requests per 1,000 records:
on AWS each request is a network round trip. Best of 3 (`--repeats N` to change);
nothing here asserts a timing. moto spends about 2 ms on every request, so the three
baseline runs alone (30,000 PutItem calls) take about a minute.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout

from refarch.lambda_code import load_lambda_module  # noqa: E402
from refarch.local.engines.lambda_runtime import FAKE_AWS, environment  # noqa: E402

DEVICES, READINGS_PER_DEVICE = 100, 100   # 10,000 records
LAMBDA_BATCH = 100                        # the event source mapping's default batch size
REPEATS = 3
T0 = 1_714_521_600_000                    # 2024-05-01T00:00:00Z

batch = load_lambda_module("iot_writer", "iot_writer_batch")
schema = load_lambda_module("iot_writer", "iot_writer_schema")
aws = load_lambda_module("iot_writer", "iot_writer_aws")


class NoQuarantine:
    def send(self, messages):
        return set()


class NoAlerts:
    def publish(self, alerts):
        return set()


def stream_records() -> list:
    """Readings interleaved by time (every device reports each minute), as a shard sees them."""
    records = []
    for minute in range(READINGS_PER_DEVICE):
        for device in range(DEVICES):
            document = {"device_id": f"sensor-{device:04d}", "ts": T0 + minute * 60_000 + device,
                        "temperature": 20 + (minute + device) % 15 * 0.5, "humidity": 45.5, "battery": 80}
            data = base64.b64encode(json.dumps(document).encode()).decode()
            records.append(batch.StreamRecord(f"{len(records):056d}", document["device_id"], data))
    return records


def new_table(client, name: str) -> None:
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}, {"AttributeName": "ts", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"},
                              {"AttributeName": "ts", "AttributeType": "S"}])


def writer(batch_size: int) -> Callable:
    def run(client, table, records) -> int:
        store = aws.DynamoReadingStore(client, table, ttl_days=30)
        written = 0
        for start in range(0, len(records), batch_size):
            result = batch.process_batch(records[start:start + batch_size], store, NoQuarantine(), NoAlerts())
            if result.failed_sequence_numbers:
                raise RuntimeError(f"{len(result.failed_sequence_numbers)} records failed: the figures would be wrong")
            written += result.written
        return written
    return run


def put_item_baseline(client, table, records) -> int:
    for record in records:   # same decoding and item, one request per record
        client.put_item(TableName=table, Item=aws.reading_item(schema.decode_reading(record.data), 30))
    return len(records)


_table_names = (f"readings-{n}" for n in itertools.count())   # a fresh table per run


def measure(name: str, method: Callable, records: list, repeats: int) -> dict:
    """Best time of `repeats` runs, each on a fresh table, and the DynamoDB calls of one run."""
    import boto3
    best, calls = float("inf"), Counter()
    for _ in range(repeats):
        client = boto3.client("dynamodb")
        table = next(_table_names)
        new_table(client, table)
        counted: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*",
                                    lambda event_name, **_: counted.update([event_name.rsplit(".", 1)[-1]]))
        started = time.perf_counter()
        written = method(client, table, records)
        best = min(best, time.perf_counter() - started)
        if written != len(records):
            raise RuntimeError(f"{name}: wrote {written} of {len(records)} records")
        calls = counted
    return {"name": name, "seconds": best, "calls": calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per method; the best counts")
    repeats = parser.parse_args().repeats
    from moto import mock_aws
    started = time.perf_counter()
    records = stream_records()
    with environment(FAKE_AWS), mock_aws():
        rows = [measure(f"writer, one {len(records):,}-record batch", writer(len(records)), records, repeats),
                measure(f"writer, Lambda batches of {LAMBDA_BATCH}", writer(LAMBDA_BATCH), records, repeats),
                measure("baseline, PutItem per record", put_item_baseline, records, repeats)]
    per_k = 1000 / len(records)
    print(f"{len(records):,} readings from {DEVICES} devices interleaved by time;"
          f" moto, best of {repeats} runs\n")
    print(f"{'method':<36} {'best s':>8} {'records/s':>10} {'requests':>9} {'per 1k rec':>10}  by operation (per 1k)")
    for row in rows:
        total = sum(row["calls"].values())
        ops = ", ".join(f"{op} {n * per_k:g}" for op, n in sorted(row["calls"].items()))
        print(f"{row['name']:<36} {row['seconds']:>8.2f} {len(records) / row['seconds']:>10,.0f}"
              f" {total:>9,} {total * per_k:>10.1f}  {ops}")
    base = rows[-1]
    print()
    for row in rows[:-1]:
        print(f"{row['name']}: {base['seconds'] / row['seconds']:.1f}x the baseline's records/s,"
              f" {sum(row['calls'].values()) / sum(base['calls'].values()):.3f}x its requests")
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
