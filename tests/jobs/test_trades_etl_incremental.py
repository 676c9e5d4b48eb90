"""The trades ETL job runs incrementally on local Spark: a day of new raw data is processed
alone, a rerun changes nothing, a backfill rewrites exactly its date, a late file redoes its
day, and the lake after many runs equals one run over all the raw data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from refarch.local.engines.glue import load_etl_job
from refarch.local.engines.redshift_local import open_warehouse
from refarch.local.warehouse import load_run
from tests.spark_fixtures import spark  # noqa: F401

job = load_etl_job()
pytestmark = pytest.mark.spark

HEADER = "trade_id,symbol,side,quantity,price,trade_ts"
DAY_1 = ["A1,AAPL,BUY,10,190.00,2024-05-01T10:00:00Z", "A2,MSFT,SELL,5,410.00,2024-05-01T13:30:00-05:00",
         "A3,AAPL,BUY,1,-1,2024-05-01T11:00:00Z",                                   # bad_price, dated
         "A4,AAPL,BUY,1,1.00,2024-05-01"]                                           # bad_timestamp: undated
DAY_2 = ["B1,NVDA,BUY,3,880.00,2024-05-02T09:00:00Z", "B1,nvda,buy,3,880.0,2024-05-02T11:00:00+02:00",   # duplicate
         "B2,XOM,SELL,2,115.00,2023-12-31T12:00:00Z"]                               # before first_trade_date
LATE = ["C1,JPM,BUY,4,195.00,2024-05-01T15:00:00Z"]                                 # a 05-01 trade, shipped late
CONFLICT = ["A1,AAPL,BUY,10,189.00,2024-04-30T10:00:00Z"]                            # an earlier A1, another day


def land(raw: Path, name: str, lines: list[str]) -> None:
    path = raw / name / "trades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *lines]) + "\n")


def run(spark, lake: Path, run_id: str, as_of: str, *extra: str) -> dict:  # noqa: F811
    return job.main(["--JOB_NAME", "trades-etl", "--JOB_RUN_ID", run_id, "--as_of", as_of,
                     "--source_path", str(lake / "raw"), "--target_path", str(lake / "trades"),
                     "--quality_path", str(lake / "_quality"), *extra], spark=spark)


def files(folder: Path) -> dict[str, float]:
    """Every Parquet file under `folder` -> its modification time: what a run rewrote changes."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*.parquet"))}


def partition_files(folder: Path, day: str) -> dict[str, float]:
    return {name: mtime for name, mtime in files(folder).items() if name.startswith(f"trade_date={day}/")}


def rows(spark, folder: Path) -> list[tuple]:  # noqa: F811
    frame = spark.read.parquet(str(folder))
    columns = [c for c in frame.columns if c != "trade_date"]
    return sorted(tuple(map(str, row)) for row in frame.selectExpr(*columns, "CAST(trade_date AS STRING)").collect())


@pytest.fixture(scope="module")
def history(spark, tmp_path_factory):  # noqa: F811
    """Nightly runs over a growing raw zone, each followed by the warehouse load of that run
    (the loader's statements on DuckDB); each step's summary, the files it left, what it loaded."""
    lake = tmp_path_factory.mktemp("incremental")
    steps = {}
    warehouse = open_warehouse()

    def step(name: str, run_id: str, as_of: str, *extra: str) -> None:
        summary = run(spark, lake, run_id, as_of, *extra)
        manifest = lake / "_quality" / "trades-etl" / f"{run_id}.manifest"
        loaded = {r.name: r.rows for r in load_run(warehouse, manifest, lake)}
        steps[name] = {"summary": summary, "curated": files(lake / "trades"),
                       "rejected": files(lake / "trades_rejected"), "manifest": json.loads(manifest.read_text()),
                       "copied": loaded.get("23_copy_trades"),
                       "warehouse": sorted(warehouse.execute(
                           "SELECT trade_id, CAST(trade_date AS VARCHAR), price FROM analytics.trades").fetchall())}

    land(lake / "raw", "ingest=2024-05-01", DAY_1)
    step("first", "jr_1", "2024-05-02T02:00:00Z")
    land(lake / "raw", "ingest=2024-05-02", DAY_2)
    step("second day", "jr_2", "2024-05-03T02:00:00Z")
    step("rerun", "jr_3", "2024-05-03T03:00:00Z")
    step("backfill", "jr_4", "2024-05-03T04:00:00Z", "--backfill_dates", "2024-05-01")
    land(lake / "raw", "ingest=2024-05-03", LATE)
    step("late file", "jr_5", "2024-05-04T02:00:00Z")
    land(lake / "raw", "ingest=2024-05-04", CONFLICT)
    step("conflict", "jr_6", "2024-05-05T02:00:00Z")
    yield lake, steps
    warehouse.close()


def test_the_first_run_processes_everything_it_finds(history):
    _, steps = history
    summary = steps["first"]["summary"]
    assert (summary["mode"], summary["objects_new"], summary["objects_read"]) == ("incremental", 1, 1)
    assert summary["dates_processed"] == ["2024-05-01", "undated-2024-05-02"]
    assert summary["rows_by_trade_date"] == {"2024-05-01": 2}


def test_a_second_day_of_raw_data_processes_only_that_day(history):
    _, steps = history
    before, after = steps["first"], steps["second day"]
    summary = after["summary"]
    assert (summary["objects_new"], summary["objects_read"]) == (1, 1)     # the day-1 file is not read again
    assert summary["dates_processed"] == ["2024-05-02", "undated-2024-05-03"]
    assert summary["rows_read"] == 3
    assert summary["rows_by_trade_date"] == {"2024-05-02": 1}               # B1, once
    assert summary["rejected_by_reason"] == {"timestamp_out_of_range": 1}
    # 2024-05-01 was not touched: the same files, unmodified
    assert {k: v for k, v in after["curated"].items() if "2024-05-01" in k} == \
           {k: v for k, v in before["curated"].items() if "2024-05-01" in k}


def test_a_trade_outside_the_projected_dates_is_rejected_into_the_undated_partition(spark, history):  # noqa: F811
    lake, _ = history
    undated = spark.read.parquet(str(lake / "trades_rejected" / "trade_date=undated-2024-05-03")).collect()
    assert [(r.trade_id, r.reason, r.trade_ts) for r in undated] == [
        ("B2", "timestamp_out_of_range", "2023-12-31T12:00:00Z")]


def test_a_rerun_with_nothing_new_reads_nothing_and_changes_nothing(history):
    _, steps = history
    before, rerun = steps["second day"], steps["rerun"]
    summary = rerun["summary"]
    assert (summary["mode"], summary["objects_read"], summary["rows_read"], summary["dates_processed"]) == (
        "idle", 0, 0, [])
    assert (rerun["curated"], rerun["rejected"]) == (before["curated"], before["rejected"])
    assert rerun["manifest"] == {"entries": []}        # the warehouse has nothing to load


def test_a_backfill_of_one_date_rewrites_exactly_that_date(spark, history):  # noqa: F811
    _, steps = history
    before, after = steps["rerun"], steps["backfill"]
    summary = after["summary"]
    assert (summary["mode"], summary["dates_processed"], summary["objects_read"]) == ("backfill", ["2024-05-01"], 1)
    changed = {name for name in after["curated"] if after["curated"][name] != before["curated"].get(name)}
    assert changed and all(name.startswith("trade_date=2024-05-01/") for name in changed)
    assert set(before["curated"]) - set(after["curated"]) <= {n for n in before["curated"] if "2024-05-01" in n}
    assert {k: v for k, v in after["curated"].items() if "2024-05-01" not in k} == \
           {k: v for k, v in before["curated"].items() if "2024-05-01" not in k}
    assert [e["url"].split("/trades/")[1].split("/")[0] for e in after["manifest"]["entries"]] == ["trade_date=2024-05-01"]


def test_a_late_file_redoes_its_day_from_all_of_that_days_files(history):
    lake, steps = history
    summary = steps["late file"]["summary"]
    assert summary["dates_processed"] == ["2024-05-01"]
    assert (summary["objects_new"], summary["objects_read"]) == (1, 2)       # the late file and day 1's
    assert summary["rows_by_trade_date"] == {"2024-05-01": 3}                 # A1, A2 and C1


def test_another_version_of_a_stored_trade_brings_its_date_into_the_run(history):
    _, steps = history
    summary = steps["conflict"]["summary"]
    assert summary["scope_rounds"] == 2
    assert summary["dates_processed"] == ["2024-04-30", "2024-05-01"]
    assert summary["rows_by_trade_date"] == {"2024-04-30": 1, "2024-05-01": 2}   # the earlier A1 wins
    assert summary["rejected_by_reason"] == {"bad_price": 1, "duplicate_trade_id": 1}


def test_the_load_manifest_lists_the_curated_files_the_run_wrote_with_their_sizes(history):
    lake, steps = history
    manifest = steps["conflict"]["manifest"]
    listed = {e["url"].removeprefix("file://"): e["meta"]["content_length"] for e in manifest["entries"]}
    expected = {str(p): p.stat().st_size for day in ("2024-04-30", "2024-05-01")
                for p in (lake / "trades" / f"trade_date={day}").glob("*.parquet")}
    assert listed == expected and all(e["mandatory"] for e in manifest["entries"])


def test_the_lake_after_many_runs_equals_one_run_over_all_the_raw_data(spark, history, tmp_path):  # noqa: F811
    lake, _ = history
    fresh = tmp_path / "fresh"
    shutil.copytree(lake / "raw", fresh / "raw")
    run(spark, fresh, "jr_full", "2024-05-05T02:00:00Z")
    assert rows(spark, lake / "trades") == rows(spark, fresh / "trades")
    dated = lambda folder: [r for r in rows(spark, folder) if not r[-1].startswith("undated-")]  # noqa: E731
    assert dated(lake / "trades_rejected") == dated(fresh / "trades_rejected")
    # undated rows are filed by the day their file was first processed: same rows, other days
    assert len(rows(spark, lake / "trades_rejected")) == len(rows(spark, fresh / "trades_rejected"))


def test_losing_the_record_costs_one_full_run_that_rebuilds_it(spark, history, tmp_path):  # noqa: F811
    lake, _ = history
    copy = tmp_path / "copy"
    shutil.copytree(lake, copy)
    (copy / "_quality" / "trades-etl" / "processed-objects.json").unlink()
    summary = run(spark, copy, "jr_rebuild", "2024-05-06T02:00:00Z")
    assert (summary["objects_new"], summary["objects_read"]) == (4, 4)
    assert rows(spark, copy / "trades") == rows(spark, lake / "trades")
    assert run(spark, copy, "jr_after", "2024-05-06T03:00:00Z")["mode"] == "idle"


# --- the warehouse follows: each load copies only the dates its ETL run wrote ---------------

def test_each_warehouse_load_copies_only_the_dates_its_etl_run_wrote(history):
    _, steps = history
    assert [(name, step["copied"]) for name, step in steps.items()] == [
        ("first", 2),           # 2024-05-01: A1, A2
        ("second day", 1),      # 2024-05-02 only: B1
        ("rerun", None),        # nothing new: no COPY, no load batch
        ("backfill", 2),        # 2024-05-01 again
        ("late file", 3),       # 2024-05-01 with C1
        ("conflict", 3),        # 2024-04-30 (the earlier A1) and 2024-05-01 (A2, C1)
    ]


def test_a_repeated_or_empty_load_changes_nothing_in_the_warehouse(history):
    _, steps = history
    assert steps["rerun"]["warehouse"] == steps["second day"]["warehouse"]
    assert steps["backfill"]["warehouse"] == steps["rerun"]["warehouse"]       # same rows, day replaced whole


def test_the_warehouse_ends_with_exactly_the_curated_lake(spark, history):  # noqa: F811
    lake, steps = history
    curated = sorted((r.trade_id, str(r.trade_date), r.price) for r in spark.read.parquet(str(lake / "trades")).collect())
    assert steps["conflict"]["warehouse"] == curated
    assert [(t, d) for t, d, _ in curated] == [("A1", "2024-04-30"), ("A2", "2024-05-01"), ("B1", "2024-05-02"),
                                              ("C1", "2024-05-01")]
