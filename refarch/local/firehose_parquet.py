"""Local run of FirehoseParquet: the real transform on Firehose-shaped events, then
Parquet written the way Firehose's record-format conversion would, read back and counted.

Firehose partitions with the key the transform returns for each Ok record (dynamic
partitioning): `dt=` is the UTC day of the line's own time, or `undated`. Each record
carries the arrival time the generator gave it (some lines arrive hours late, a few
carry a clock far off). `Ok` records are converted with pyarrow using the Glue table's
columns and types, failed ones are kept under errors/processing-failed/dt=<arrival day>/
with their original bytes.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.firehose import GLUE_TYPES, write_error_objects, write_parquet_partitions
from refarch.local.engines.lambda_events import firehose_event
from refarch.local.engines.lambda_runtime import FAKE_AWS, QUIET_POWERTOOLS, LocalContext, environment
from refarch.local.generators.access_log import generate_access_log
from refarch.local.reports.firehose_parquet import FirehoseRunReport

STREAM_ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream/refarch-local"


def run_firehose_parquet(lines: int = 3000, *, seed: int = 5, batch_records: int = 500,
                         workdir: Path | None = None) -> FirehoseRunReport:
    columns = load_lambda_module("log_transform", "log_transform_parse").COLUMNS
    generated = generate_access_log(lines, seed=seed)
    output = workdir or Path(tempfile.mkdtemp(prefix="refarch-firehose-"))
    with environment({**QUIET_POWERTOOLS, **FAKE_AWS}):
        transform = load_lambda_module("log_transform", "log_transform")
        results = []
        for start in range(0, len(generated), batch_records):
            chunk = generated[start:start + batch_records]
            event = firehose_event([(line.data, line.arrival) for line in chunk], first_index=start,
                                   stream_arn=STREAM_ARN)
            response = transform.handler(event, LocalContext("log_transform"))
            results += list(zip(chunk, response["records"], strict=True))

    ok_rows: dict[str, list[dict]] = defaultdict(list)
    failed: dict[str, list[str]] = defaultdict(list)
    dropped = 0
    for line, record in results:
        if record["result"] == "Ok":
            dt = record["metadata"]["partitionKeys"]["dt"]      # !{partitionKeyFromLambda:dt}
            ok_rows[dt].append(json.loads(base64.b64decode(record["data"])))
        elif record["result"] == "ProcessingFailed":
            failed[line.arrival.strftime("%Y-%m-%d")].append(record["data"])   # !{timestamp:...}
        else:
            dropped += 1
    write_parquet_partitions(ok_rows, columns, output / "access_logs")
    write_error_objects(failed, output / "errors" / "processing-failed")

    table = ds.dataset(output / "access_logs", format="parquet", partitioning="hive").to_table()
    statuses = Counter(f"{status // 100}xx" for status in table.column("status").to_pylist())
    partitions = Counter(str(dt) for dt in table.column("dt").to_pylist())
    file_schema = pq.read_schema(next((output / "access_logs").rglob("*.parquet")))
    return FirehoseRunReport(
        sent=len(generated), ok=sum(len(r) for r in ok_rows.values()),
        processing_failed=sum(len(f) for f in failed.values()), dropped=dropped,
        rows_by_partition=dict(partitions), rows_by_status_class=dict(statuses),
        failed_by_partition={dt: len(f) for dt, f in failed.items()},
        parquet_schema=tuple((f.name, GLUE_TYPES[str(f.type)]) for f in file_schema),
        output=output, expected_malformed=sum(line.malformed for line in generated))
