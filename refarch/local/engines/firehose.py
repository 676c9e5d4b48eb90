"""What Firehose writes, locally: records converted to Parquet with the Glue table's columns and
types (record-format conversion), one Snappy file per dt= partition, and the records its
processor failed kept as error objects with their original data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Glue (Hive) types -> the Arrow types Parquet stores them as.
ARROW_TYPES = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(),
               "double": pa.float64(), "boolean": pa.bool_(), "timestamp": pa.timestamp("ms")}
GLUE_TYPES = {str(t): g for g, t in ARROW_TYPES.items()}


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


def write_dated_parquet(rows: list[dict], columns, date_field: str, root: Path) -> dict[str, int]:
    """Rows as a stream-fed delivery stream writes them: converted to Parquet with the Glue columns
    (ISO-8601 timestamps parsed), one Snappy file per dt=<the date of `date_field`>/ (what its
    dynamic-partitioning JQ query reads). Returns rows per partition."""
    schema = arrow_schema(columns)
    by_day: dict[str, list[dict]] = {}
    for row in rows:
        by_day.setdefault(row[date_field][:10], []).append(row)
    written = {}
    for day, day_rows in sorted(by_day.items()):
        data = {name: [(_iso_timestamp(r.get(name)) if kind == "timestamp" else r.get(name)) for r in day_rows]
                for name, kind in columns}
        folder = root / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(data, schema=schema), folder / "part-0.parquet", compression="snappy")
        written[day] = len(day_rows)
    return written


def _iso_timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
