"""The trades ETL Glue job (jobs/glue/trades_etl.py) on local Spark, with hand-made raw CSV."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from refarch.local.engines.glue import load_etl_job
from tests.spark_fixtures import spark  # noqa: F401

job = load_etl_job()

HEADER = "trade_id,symbol,side,quantity,price,trade_ts"
# Redshift stores trade_id as VARCHAR(64): 64 bytes of UTF-8, not 64 characters.
ID_64_BYTES = "\u00e9" * 32             # é is 2 bytes in UTF-8
ID_65_BYTES = "L" * 65
ID_66_BYTES = "\u00e9" * 33
# Every kind of row the job must tell apart; the comment says where each one must end up.
RAW = [
    "T1,AAPL,BUY,100,190.50,2024-05-01T14:30:00Z",               # written
    "T1,aapl,buy, 100 ,190.5000,2024-05-01T16:30:00+02:00",      # duplicate: same trade, other formatting
    "T2,MSFT,SELL,50,410.1234,2024-05-01T23:30:00-05:00",        # written; UTC day 2024-05-02
    "T3,BRK.B,BUY,10,406.00,2024-05-02T09:05:00Z",               # duplicate_trade_id: later, different
    "T3,BRK.B,BUY,10,405.00,2024-05-02T09:00:00.250Z",           # written: the earliest T3
    "T4,nvda,sell,5,880.10,2024-05-01T09:59:59.5+05:30",         # written; 04:29:59.5 UTC
    "T4,NVDA,SELL,5,880.1,2024-05-01T04:29:59.500Z",             # duplicate: the same instant
    "T5,AAPL,BUY,1,190.00,2024-05-01T10:00:00Z",                 # written
    "T5,AAPL,BUY,1,190.00,2024-05-01T10:00:00Z",                 # duplicate: byte-identical
    f"{ID_64_BYTES},XOM,BUY,2,115.00,2024-05-02T12:00:00Z",      # written: 32 characters, 64 bytes fit
    ",AAPL,BUY,1,1.00,2024-05-01T10:00:00Z",                     # missing_trade_id
    f"{ID_65_BYTES},AAPL,BUY,1,1.00,2024-05-01T10:00:00Z",       # bad_trade_id: one byte over VARCHAR(64)
    f"{ID_66_BYTES},AAPL,BUY,1,1.00,2024-05-01T10:00:00Z",       # bad_trade_id: 33 characters, 66 bytes
    "T\t6,AAPL,BUY,1,1.00,2024-05-01T10:00:00Z",                 # bad_trade_id: a tab inside
    "T\x007,AAPL,BUY,1,1.00,2024-05-01T10:00:00Z",               # bad_trade_id: NUL
    "\x1b[1mT8,BRK/B,BUY,1,1.00,2024-05-01T10:00:00Z",           # bad_trade_id (ESC), checked before bad_symbol
    "B1,TOOLONGSYMB,BUY,1,1.00,2024-05-01T10:00:00Z",            # bad_symbol
    "B2,AAPL,HOLD,1,1.00,2024-05-01T10:00:00Z",                  # bad_side
    "B3,AAPL,BUY,0,1.00,2024-05-01T10:00:00Z",                   # bad_quantity
    "B3,AAPL,BUY,0,1.00,2024-05-01T10:00:00Z",                   # bad_quantity (bad rows are not de-duplicated)
    "B4,AAPL,BUY,1.5,1.00,2024-05-01T10:00:00Z",                 # bad_quantity
    "B5,AAPL,BUY,1,12.34567,2024-05-01T10:00:00Z",               # bad_price: more than 4 decimals
    "B6,AAPL,BUY,1,-1,2024-05-01T10:00:00Z",                     # bad_price
    "B7,AAPL,BUY,1,1.00,2024-05-01T10:00:00",                    # bad_timestamp: no zone
    "B8,AAPL,BUY,1,1.00,2024-02-30T10:00:00Z",                   # bad_timestamp: no such day
    "B9,AAPL,BUY,1",                                             # malformed_row
]
CURATED = [   # trade_id, symbol, side, quantity, price, trade_ts (UTC), trade_date
    ("T1", "AAPL", "BUY", 100, Decimal("190.5000"), "2024-05-01 14:30:00.000", "2024-05-01"),
    ("T2", "MSFT", "SELL", 50, Decimal("410.1234"), "2024-05-02 04:30:00.000", "2024-05-02"),
    ("T3", "BRK.B", "BUY", 10, Decimal("405.0000"), "2024-05-02 09:00:00.250", "2024-05-02"),
    ("T4", "NVDA", "SELL", 5, Decimal("880.1000"), "2024-05-01 04:29:59.500", "2024-05-01"),
    ("T5", "AAPL", "BUY", 1, Decimal("190.0000"), "2024-05-01 10:00:00.000", "2024-05-01"),
    (ID_64_BYTES, "XOM", "BUY", 2, Decimal("115.0000"), "2024-05-02 12:00:00.000", "2024-05-02"),
]
REJECTED_BY_REASON = {"bad_price": 2, "bad_quantity": 3, "bad_side": 1, "bad_symbol": 1, "bad_timestamp": 2,
                      "bad_trade_id": 5, "duplicate_trade_id": 1, "malformed_row": 1, "missing_trade_id": 1}


def write_raw(folder: Path, lines: list[str], header: str = HEADER) -> Path:
    # a nested, Hive-looking folder: the job reads recursively and must not infer partitions
    path = folder / "ingest=2024-05-02" / "trades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n")
    return folder


def argv(root: Path, source: Path, run_id: str = "jr_test") -> list[str]:
    return ["--JOB_NAME", "trades-etl", "--JOB_RUN_ID", run_id, "--job-bookmark-option", "job-bookmark-disable",
            "--as_of", "2024-05-03T02:00:00Z",
            "--source_path", str(source), "--target_path", str(root / "trades"),
            "--quality_path", str(root / "_quality"), "--TempDir", str(root / "tmp"), "--enable-metrics"]


def curated_rows(spark, path: Path) -> list[tuple]:  # noqa: F811
    # Spark infers the partition column as a date when reading; the Glue table says string.
    frame = spark.read.parquet(str(path)).selectExpr(
        "trade_id", "symbol", "side", "quantity", "price",
        "date_format(trade_ts, 'yyyy-MM-dd HH:mm:ss.SSS')", "CAST(trade_date AS STRING)")
    return sorted(tuple(row) for row in frame.collect())


def folders(path: Path) -> dict[str, int]:
    """partition folder -> number of Parquet files in it"""
    return {p.name: len(list(p.glob("*.parquet"))) for p in sorted(path.iterdir()) if p.is_dir()}


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("lake")
    source = write_raw(root / "raw", RAW)
    summary = job.main(argv(root, source), spark=spark)
    return root, summary


# --- arguments -------------------------------------------------------------------------

GLUE_ARGV = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_42", "--job-bookmark-option", "job-bookmark-disable",
             "--as_of", "2024-05-03T02:00:00Z", "--first_trade_date", "2024-01-01",
             "--TempDir", "s3://tmp-bucket/glue/", "--enable-metrics", "--enable-glue-datacatalog", "true",
             "--source_path", "s3://raw/trades/", "--target_path", "s3://curated/trades/",
             "--quality_path", "s3://curated/_quality/", "--JOB_NAME", "trades-etl", "positional-noise"]


def test_glue_arguments_are_read_and_unknown_ones_ignored():
    args = job.parse_args(GLUE_ARGV)
    assert args == job.JobArgs(source_path="s3://raw/trades/", target_path="s3://curated/trades/",
                               quality_path="s3://curated/_quality/", rejected_path="s3://curated/trades_rejected/",
                               job_name="trades-etl", run_id="jr_42", first_trade_date="2024-01-01",
                               as_of=datetime(2024, 5, 3, 2, tzinfo=UTC))
    assert (args.last_trade_date, args.run_day, args.backfill) == ("2024-05-04", "2024-05-03", ())


def test_the_summary_goes_under_the_quality_path_by_job_and_run():
    args = job.parse_args(GLUE_ARGV)
    assert args.summary_path == "s3://curated/_quality/trades-etl/jr_42.json"
    assert args.manifest_path == "s3://curated/_quality/trades-etl/jr_42.manifest"
    assert args.state_path == "s3://curated/_quality/trades-etl/processed-objects.json"


@pytest.mark.parametrize("text, dates", [
    ("2024-05-01", ("2024-05-01",)),
    ("2024-04-29:2024-05-01", ("2024-04-29", "2024-04-30", "2024-05-01")),
    ("2024-05-03, 2024-05-01:2024-05-01,undated-2024-05-02", ("2024-05-01", "2024-05-03", "undated-2024-05-02")),
    ("all", ("all",)),
])
def test_backfill_dates_are_a_date_a_range_or_a_list(text, dates):
    assert job.parse_args([*GLUE_ARGV, "--backfill_dates", text]).backfill == dates


@pytest.mark.parametrize("name, value, message", [
    ("backfill_dates", "2024-05-03:2024-05-01", "first to last"),
    ("backfill_dates", "yesterday", "expected a date YYYY-MM-DD"),
    ("first_trade_date", "2024-13-01", "--first_trade_date '2024-13-01': expected a date YYYY-MM-DD"),
    ("as_of", "2024-05-03T02:00:00", "--as_of '2024-05-03T02:00:00': expected an ISO-8601 instant with a zone"),
])
def test_a_bad_incremental_argument_is_named(name, value, message):
    with pytest.raises(job.JobArgumentError, match=re.escape(message)):
        job.parse_args([*GLUE_ARGV, f"--{name}", value])


def test_name_equals_value_arguments_and_an_explicit_rejected_path_are_accepted():
    args = job.parse_args(["--source_path=s3://raw/t/", "--target_path=s3://c/t", "--quality_path=s3://c/q",
                           "--rejected_path", "s3://c/quarantine/"])
    assert (args.source_path, args.target_path, args.rejected_path) == ("s3://raw/t/", "s3://c/t", "s3://c/quarantine/")
    assert args.job_name == "trades_etl" and args.run_id   # defaults outside Glue


def test_missing_arguments_are_named():
    with pytest.raises(job.JobArgumentError, match="--target_path, --quality_path"):
        job.parse_args(["--source_path", "s3://raw/", "--target_path", " ", "--TempDir", "s3://t/"])


def test_the_rejected_rows_cannot_overwrite_the_curated_table():
    with pytest.raises(job.JobArgumentError, match="must differ"):
        job.parse_args(["--source_path", "s3://r/", "--target_path", "s3://c/t/", "--quality_path", "s3://c/q/",
                        "--rejected_path", "s3://c/t"])


def test_the_invariant_check_fails_loudly_when_a_row_is_unaccounted_for():
    summary = {"rows_read": 10, "rows_written": 5, "duplicates_removed": 2, "rows_rejected": 2,
               "rejected_by_reason": {"bad_price": 2}, "rows_by_trade_date": {"2024-05-01": 5}}
    with pytest.raises(job.QualityInvariantError, match="rows_read 10 != rows_written 5"):
        job.check_invariant(summary)
    job.check_invariant(summary | {"rows_read": 9})


def test_the_invariant_check_compares_rows_read_back_with_the_tally():
    summary = {"rows_read": 9, "rows_written": 4, "duplicates_removed": 2, "rows_rejected": 3,
               "rejected_by_reason": {"bad_price": 2}, "rows_by_trade_date": {"2024-05-01": 5}}
    # rows_read still adds up (4 + 2 + 3): only the comparison with the tally shows the two errors
    with pytest.raises(job.QualityInvariantError) as raised:
        job.check_invariant(summary)
    assert str(raised.value) == ("rows_written 4 != 5 tallied in rows_by_trade_date;"
                                 " rows_rejected 3 != 2 tallied in rejected_by_reason")


def test_the_tally_groups_counts_and_lists_the_partitions_each_output_gets():
    tally = job.Tally.of([("written", None, "2024-05-02", 2), ("written", None, "2024-05-01", 3),
                          ("duplicate", None, "2024-05-01", 1), ("rejected", "bad_price", "2024-05-02", 2),
                          ("rejected", "malformed_row", None, 1), ("rejected", "bad_price", "2024-05-01", 1)])
    assert tally == job.Tally(written_by_trade_date={"2024-05-01": 3, "2024-05-02": 2}, duplicates=1,
                              rejected_by_reason={"bad_price": 3, "malformed_row": 1},
                              rejected_trade_dates=("2024-05-01", "2024-05-02", None))
    assert (tally.written, tally.rejected) == (5, 4)


def test_the_tally_must_account_for_every_row_read_before_anything_is_written():
    tally = job.Tally({"2024-05-01": 5}, 2, {"bad_price": 2}, ("2024-05-01",))
    with pytest.raises(job.QualityInvariantError, match="rows_read 10 != .* = 9; nothing was written"):
        job.check_tally(10, tally)
    job.check_tally(9, tally)
    with pytest.raises(job.QualityInvariantError, match="rows_read 2 != .* = 1"):   # a disposition it does not know
        job.check_tally(2, job.Tally.of([("written", None, "2024-05-01", 1), ("lost", None, "2024-05-01", 1)]))


def test_bad_trade_id_is_checked_right_after_missing_trade_id():
    assert job.REASONS[:3] == ("malformed_row", "missing_trade_id", "bad_trade_id")


# --- the run ---------------------------------------------------------------------------

@pytest.mark.spark
def test_curated_rows_are_the_valid_trades_once_each_in_utc(spark, run):  # noqa: F811
    root, _ = run
    assert curated_rows(spark, root / "trades") == CURATED


@pytest.mark.spark
def test_curated_parquet_has_the_table_types(spark, run):  # noqa: F811
    root, _ = run
    from refarch.stacks.batch_data_lake import REJECTED_COLUMNS, TRADES_COLUMNS

    # The Glue tables the stack declares must describe what the job really writes.
    curated = spark.read.parquet(str(root / "trades" / "trade_date=2024-05-01")).dtypes
    assert curated == list(TRADES_COLUMNS)
    rejected_folder = next(p for p in (root / "trades_rejected").iterdir() if p.is_dir())
    assert spark.read.parquet(str(rejected_folder)).dtypes == list(REJECTED_COLUMNS)


@pytest.mark.spark
def test_curated_output_has_one_file_per_utc_trade_date_folder(run):
    root, _ = run
    assert folders(root / "trades") == {"trade_date=2024-05-01": 1, "trade_date=2024-05-02": 1}


@pytest.mark.spark
def test_rejected_rows_keep_their_raw_values_and_one_reason(spark, run):  # noqa: F811
    root, _ = run
    rows = spark.read.parquet(str(root / "trades_rejected")).collect()
    assert Counter(r.reason for r in rows) == REJECTED_BY_REASON
    by_id = {(r.trade_id, r.reason): r for r in rows}
    assert by_id["B4", "bad_quantity"].quantity == "1.5"                  # as it arrived, not nulled
    assert by_id["B5", "bad_price"].price == "12.34567"
    assert by_id["T3", "duplicate_trade_id"].price == "406.00"            # the later version is rejected
    assert by_id["B9", "malformed_row"].malformed_record == "B9,AAPL,BUY,1"
    assert {r.trade_id for r in rows if r.reason == "bad_timestamp"} == {"B7", "B8"}
    assert {r.trade_id for r in rows if r.reason == "bad_trade_id"} == {
        ID_65_BYTES, ID_66_BYTES, "T\t6", "T\x007", "\x1b[1mT8"}                # control characters kept as read


@pytest.mark.spark
def test_rejected_rows_without_a_usable_timestamp_go_to_the_undated_partition_of_their_first_run(run):
    root, _ = run
    assert set(folders(root / "trades_rejected")) == {
        "trade_date=2024-05-01", "trade_date=2024-05-02", "trade_date=undated-2024-05-03"}


@pytest.mark.spark
def test_the_quality_summary_accounts_for_every_row_read(run):
    root, returned = run
    written = json.loads((root / "_quality" / "trades-etl" / "jr_test.json").read_text())
    assert written == returned
    assert {k: written[k] for k in ("rows_read", "rows_written", "duplicates_removed", "rows_rejected")} == {
        "rows_read": 26, "rows_written": 6, "duplicates_removed": 3, "rows_rejected": 17}
    assert written["rejected_by_reason"] == REJECTED_BY_REASON
    assert written["rows_by_trade_date"] == {"2024-05-01": 3, "2024-05-02": 3}


@pytest.mark.spark
def test_clean_trades_splits_a_frame_into_valid_and_rejected_rows(spark):  # noqa: F811
    raw = spark.createDataFrame(
        [("T1", "AAPL", "BUY", "1", "2.5", "2024-05-01T10:00:00Z", None),
         ("T1", "AAPL", "BUY", "1", "2.5", "2024-05-01T12:00:00+02:00", None),
         ("T2", "AAPL", "BUY", "1", "2.5", "2024-05-01", None)], job.RAW_SCHEMA)
    valid, rejected = job.clean_trades(raw)
    assert [r.trade_id for r in valid.collect()] == ["T1"]
    assert [(r.trade_id, r.reason) for r in rejected.collect()] == [("T2", "bad_timestamp")]
    assert tuple(valid.columns) == job.CURATED_COLUMNS and tuple(rejected.columns) == job.REJECTED_COLUMNS


@pytest.mark.spark
def test_trade_ids_are_measured_in_utf8_bytes_and_must_hold_no_control_character(spark):  # noqa: F811
    fits = ["A" * 64, "\u20ac" * 21 + "A"]             # 64 bytes each (the euro sign is 3 bytes in UTF-8)
    padded = " " + "B" * 64 + " "                      # 64 bytes once trimmed, as it is stored
    too_long = ["C" * 65, "\u20ac" * 22]               # 65 bytes; 22 characters but 66 bytes
    controls = ["D\u0085", "E\x7f", "F\x00", "\tG"]     # C1 control (NEL), DEL, NUL, tab
    raw = spark.createDataFrame([(trade_id, "AAPL", "BUY", "1", "2.5", "2024-05-01T10:00:00Z", None)
                                 for trade_id in [*fits, padded, *too_long, *controls]], job.RAW_SCHEMA)
    valid, rejected = job.clean_trades(raw)
    assert sorted(r.trade_id for r in valid.collect()) == sorted([*fits, "B" * 64])
    assert sorted((r.trade_id, r.reason) for r in rejected.collect()) == sorted(
        (trade_id, "bad_trade_id") for trade_id in [*too_long, *controls])


def copy_lake(root: Path, to: Path) -> Path:
    """A copy of the module run's output, to run the job again on without touching it."""
    for folder in ("trades", "trades_rejected"):
        shutil.copytree(root / folder, to / folder)
    return to


@pytest.mark.spark
def test_running_again_gives_the_same_output(spark, run, tmp_path):  # noqa: F811
    root, first = run
    lake = copy_lake(root, tmp_path)
    second = job.main(argv(lake, root / "raw", "jr_again"), spark=spark)
    assert curated_rows(spark, lake / "trades") == CURATED
    assert folders(lake / "trades") == {"trade_date=2024-05-01": 1, "trade_date=2024-05-02": 1}
    assert spark.read.parquet(str(lake / "trades_rejected")).count() == 17
    counts = ("rows_read", "rows_written", "duplicates_removed", "rejected_by_reason", "rows_by_trade_date")
    assert {k: first[k] for k in counts} == {k: second[k] for k in counts}


@pytest.mark.spark
def test_a_run_replaces_only_the_trade_dates_it_contains(spark, run, tmp_path):  # noqa: F811
    lake = copy_lake(run[0], tmp_path)
    corrected = ["T2,MSFT,SELL,60,410.2000,2024-05-02T04:30:00Z", "T6,XOM,BUY,7,115.00,2024-05-03T12:00:00Z"]
    job.main(argv(lake, write_raw(tmp_path / "raw", corrected), "jr_2"), spark=spark)
    assert curated_rows(spark, lake / "trades") == sorted([
        *[row for row in CURATED if row[-1] == "2024-05-01"],              # untouched
        # 2024-05-02 is replaced as a whole: T3 and the 64-byte id are gone, as the second source does not hold them
        ("T2", "MSFT", "SELL", 60, Decimal("410.2000"), "2024-05-02 04:30:00.000", "2024-05-02"),
        ("T6", "XOM", "BUY", 7, Decimal("115.0000"), "2024-05-03 12:00:00.000", "2024-05-03"),
    ])


@pytest.mark.spark
def test_a_raw_file_with_other_columns_fails_the_run(spark, tmp_path):  # noqa: F811
    source = write_raw(tmp_path / "raw", ["AAPL,T1,BUY,1,1.00,2024-05-01T10:00:00Z"],
                       header="symbol,trade_id,side,quantity,price,trade_ts")
    with pytest.raises(Exception, match="(?i)header"):
        job.main(argv(tmp_path, source), spark=spark)
    assert not (tmp_path / "trades").exists()


@pytest.mark.spark
def test_nothing_is_written_when_the_counts_do_not_add_up(spark, tmp_path, monkeypatch):  # noqa: F811
    classify = job.classify_typed
    monkeypatch.setattr(job, "classify_typed", lambda typed: classify(typed).where("disposition != 'duplicate'"))
    with pytest.raises(job.QualityInvariantError, match="rows_read 26 != rows_written 6 \\+ duplicates_removed 0"):
        job.main(argv(tmp_path, write_raw(tmp_path / "raw", RAW)), spark=spark)
    assert not (tmp_path / "trades").exists() and not (tmp_path / "_quality").exists()


@pytest.mark.spark
def test_a_curated_row_lost_after_the_tally_fails_the_run_without_a_summary(spark, tmp_path, monkeypatch):  # noqa: F811
    split = job.split_trades
    monkeypatch.setattr(job, "split_trades", lambda classified: (
        split(classified)[0].where("trade_id != 'T2'"), split(classified)[1]))
    with pytest.raises(job.QualityInvariantError, match="rows_written 5 != 6 tallied in rows_by_trade_date\\."
                                                         " .*; the summary .* was not written"):
        job.main(argv(tmp_path, write_raw(tmp_path / "raw", RAW)), spark=spark)
    assert spark.read.parquet(str(tmp_path / "trades")).count() == 5      # written, and read back as such
    assert not (tmp_path / "_quality").exists()


@pytest.mark.spark
def test_rejected_rows_lost_in_the_writer_fail_the_run_without_a_summary(spark, tmp_path, monkeypatch):  # noqa: F811
    write = job._write_partitioned
    monkeypatch.setattr(job, "_write_partitioned", lambda frame, path, *order: write(
        frame.where("trade_date NOT LIKE 'undated-%'"), path, *order))   # loses the rows without a usable timestamp
    with pytest.raises(job.QualityInvariantError, match="rows_rejected 14 != 17 tallied in rejected_by_reason"):
        job.main(argv(tmp_path, write_raw(tmp_path / "raw", RAW)), spark=spark)
    assert not (tmp_path / "_quality").exists()
