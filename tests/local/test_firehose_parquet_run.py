"""FirehoseParquet local run: real transform -> Parquet typed by the Glue columns."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.firehose import arrow_schema
from refarch.local.firehose_parquet import run_firehose_parquet
from refarch.local.generators.access_log import generate_access_log
from refarch.local.reports.firehose_parquet import FirehoseRunReport

COLUMNS = load_lambda_module("log_transform", "log_transform_parse").COLUMNS


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> FirehoseRunReport:
    return run_firehose_parquet(600, seed=9, batch_records=100, workdir=tmp_path_factory.mktemp("fh"))


def test_every_line_is_converted_or_kept_as_an_error(report):
    generated = generate_access_log(600, seed=9)
    malformed = sum(line.malformed for line in generated)
    assert report.sent == 600
    assert report.processing_failed == malformed > 0
    assert report.ok == 600 - malformed
    assert report.dropped == 0


def expected_partition(line) -> str:
    """The line's UTC day when the table projects it (2020-01-01 to the day after arrival)."""
    day = line.written.strftime("%Y-%m-%d")
    last = (line.arrival + timedelta(days=1)).strftime("%Y-%m-%d")
    return day if "2020-01-01" <= day <= last else "undated"


def test_rows_land_in_the_partition_of_their_own_date_not_their_arrival(report):
    generated = [line for line in generate_access_log(600, seed=9) if not line.malformed]
    expected = Counter(expected_partition(line) for line in generated)
    assert report.rows_by_partition == dict(expected)
    assert sorted(p.name for p in (report.output / "access_logs").iterdir()) == [f"dt={day}" for day in sorted(expected)]
    # The sample has what makes this matter: lines that arrived on a later day than they were
    # written, and lines whose clock no partition covers.
    crossed = [line for line in generated if line.written.date() != line.arrival.date()
               and expected_partition(line) != "undated"]
    assert len(crossed) >= 5 and expected["undated"] >= 2


def test_a_day_holds_every_line_written_that_day_whenever_it_arrived(report):
    rows = ds.dataset(report.output / "access_logs", format="parquet", partitioning="hive").to_table()
    for dt, timestamp in zip(rows.column("dt").to_pylist(), rows.column("timestamp").to_pylist()):
        assert str(dt) == "undated" or timestamp.strftime("%Y-%m-%d") == str(dt)


def test_status_classes_match_the_generated_statuses(report):
    generated = [line for line in generate_access_log(600, seed=9) if not line.malformed]
    expected = {}
    for line in generated:
        expected[f"{line.status // 100}xx"] = expected.get(f"{line.status // 100}xx", 0) + 1
    assert report.rows_by_status_class == expected


def test_parquet_schema_written_equals_the_glue_table_columns(report):
    assert report.parquet_schema == COLUMNS
    for parquet_file in (report.output / "access_logs").rglob("*.parquet"):
        schema = pq.read_schema(parquet_file)
        assert schema.names == [name for name, _ in COLUMNS]
        assert schema.equals(arrow_schema(COLUMNS))
        assert pq.ParquetFile(parquet_file).metadata.row_group(0).column(0).compression == "SNAPPY"


def test_failed_lines_keep_their_original_bytes(report):
    import base64
    import json

    originals = {line.data for line in generate_access_log(600, seed=9) if line.malformed}
    kept = [base64.b64decode(json.loads(row)["rawData"])
            for path in (report.output / "errors" / "processing-failed").rglob("*.json")
            for row in path.read_text().splitlines()]
    assert len(kept) == report.processing_failed
    assert set(kept) <= originals


def test_a_report_that_does_not_add_up_refuses_to_exist(report):
    with pytest.raises(AssertionError, match="does not add up"):
        FirehoseRunReport(sent=10, ok=5, processing_failed=1, dropped=0, rows_by_partition={"d": 5},
                          rows_by_status_class={"2xx": 5}, failed_by_partition={"d": 1},
                          parquet_schema=(), output=report.output, expected_malformed=1)
