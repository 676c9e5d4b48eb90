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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.lambda_runtime import FAKE_AWS, QUIET_POWERTOOLS, LocalContext, environment
from refarch.local.generators.access_log import GeneratedLine, generate_access_log

# Glue (Hive) types -> the Arrow types Parquet stores them as.
ARROW_TYPES = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(),
               "double": pa.float64(), "boolean": pa.bool_(), "timestamp": pa.timestamp("ms")}
GLUE_TYPES = {str(t): g for g, t in ARROW_TYPES.items()}
STREAM_ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream/refarch-local"


@dataclass
class FirehoseRunReport:
    sent: int
    ok: int
    processing_failed: int
    dropped: int
    rows_by_partition: dict[str, int]
    rows_by_status_class: dict[str, int]
    failed_by_partition: dict[str, int]
    parquet_schema: tuple[tuple[str, str], ...]
    output: Path
    expected_malformed: int = field(default=0)

    def __post_init__(self) -> None:
        problems = []
        if self.sent != self.ok + self.processing_failed + self.dropped:
            problems.append(f"sent {self.sent} != ok {self.ok} + failed {self.processing_failed} "
                            f"+ dropped {self.dropped}")
        if sum(self.rows_by_partition.values()) != self.ok:
            problems.append(f"Parquet rows {sum(self.rows_by_partition.values())} != ok {self.ok}")
        if sum(self.rows_by_status_class.values()) != self.ok:
            problems.append("rows by status class do not add up to the ok count")
        if sum(self.failed_by_partition.values()) != self.processing_failed:
            problems.append("error objects do not add up to the failed count")
        if self.processing_failed != self.expected_malformed:
            problems.append(f"{self.processing_failed} lines failed but {self.expected_malformed} "
                            "were generated malformed")
        if problems:
            raise AssertionError("FirehoseParquet local run does not add up: " + "; ".join(problems))

    def summary_lines(self) -> list[str]:
        lines = [f"lines sent {self.sent}: converted to Parquet {self.ok}, "
                 f"processing failed {self.processing_failed} (kept under errors/), "
                 f"re-ingested {self.dropped}"]
        lines += [f"  dt={dt}: {rows} rows" for dt, rows in sorted(self.rows_by_partition.items())]
        lines.append("  by status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.rows_by_status_class.items())))
        lines.append("  Parquet columns: " + ", ".join(f"{n} {t}" for n, t in self.parquet_schema))
        return lines


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
            response = transform.handler(firehose_event(chunk, start), LocalContext("log_transform"))
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


def firehose_event(lines: list[GeneratedLine], first_index: int) -> dict:
    """A Firehose data-transformation event, as the service sends it to the processor."""
    return {
        "invocationId": f"local-{first_index}",
        "deliveryStreamArn": STREAM_ARN,
        "region": "us-east-1",
        "records": [{
            "recordId": f"{first_index + offset:08d}",
            "approximateArrivalTimestamp": int(line.arrival.timestamp() * 1000),
            "data": base64.b64encode(line.data).decode(),
        } for offset, line in enumerate(lines)],
    }


def arrow_schema(columns) -> pa.Schema:
    return pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in columns])


def write_parquet_partitions(rows_by_dt: dict[str, list[dict]], columns, root: Path) -> None:
    """One Snappy Parquet file per dt= partition, typed by the Glue columns."""
    schema = arrow_schema(columns)
    for dt, rows in rows_by_dt.items():
        converted = [{name: _convert(row.get(name), kind) for name, kind in columns} for row in rows]
        folder = root / f"dt={dt}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(converted, schema=schema), folder / "part-00000.parquet",
                       compression="snappy")


def write_error_objects(failed_by_dt: dict[str, list[str]], root: Path) -> None:
    """Failed records as Firehose writes them: JSON lines keeping the original data."""
    for dt, records in failed_by_dt.items():
        folder = root / f"dt={dt}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "part-00000.json", "w") as out:
            for data in records:
                out.write(json.dumps({"errorCode": "Lambda.ProcessingFailed", "rawData": data}) + "\n")


def _convert(value, kind: str):
    if value is None or kind != "timestamp":
        return value
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")  # the format the JSON SerDe reads
