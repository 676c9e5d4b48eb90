"""The BatchDataLake local run: generated raw CSV -> the real Glue job on local Spark ->
Parquet -> the Athena named queries on DuckDB."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from refarch.local.data_lake import open_lake, run_data_lake
from refarch.local.engines.duckdb_sql import load_named_queries
from refarch.local.engines.glue import load_etl_job
from refarch.local.generators.trades import REJECT_REASONS, generate_trades
from refarch.local.reports.data_lake import DataLakeRunReport, ReportMismatch
from tests.spark_fixtures import spark  # noqa: F401

SMALL = {"rows": 300, "seed": 11}


@pytest.fixture(scope="module")
def small_run(spark, tmp_path_factory) -> DataLakeRunReport:  # noqa: F811
    return run_data_lake(**SMALL, workdir=tmp_path_factory.mktemp("data-lake"), spark=spark)


def test_the_small_run_injects_every_kind_of_row():
    injected = generate_trades(300, seed=11).injected
    assert injected.rows == 300
    assert injected.duplicates > 0 and injected.trades > 200
    assert set(injected.rejected_by_reason) == set(REJECT_REASONS)
    assert all(count > 0 for count in injected.rejected_by_reason.values())
    assert len(injected.trade_dates) == 3


def test_the_generator_injects_every_reason_the_job_rejects_for():
    assert REJECT_REASONS == load_etl_job().REASONS


def test_bad_trade_ids_are_over_64_utf8_bytes_or_hold_a_control_character():
    raw = generate_trades(300, seed=11)
    trade_ids = {t.trade_id for t in raw.trades}
    lines = [line.split(",") for text in raw.files.values() for line in text.splitlines()[1:]]
    bad = [f[0] for f in lines
           if len(f[0].encode()) > 64 or any(unicodedata.category(c) == "Cc" for c in f[0])]
    assert len(bad) == raw.injected.rejected_by_reason["bad_trade_id"] == 3
    assert not trade_ids & set(bad)


def test_some_trades_arrive_with_a_local_day_other_than_their_utc_trade_date():
    raw = generate_trades(300, seed=11)
    utc_day = {t.trade_id: t.trade_date for t in raw.trades}
    lines = [line.split(",") for text in raw.files.values() for line in text.splitlines()[1:]]
    assert any(len(f) == 6 and f[0] in utc_day and f[5][:10] != utc_day[f[0]] for f in lines)


def test_the_same_seed_gives_the_same_raw_files():
    assert generate_trades(300, seed=11) == generate_trades(300, seed=11)
    assert generate_trades(300, seed=11).files != generate_trades(300, seed=12).files


def test_duplicates_re_deliver_generated_trades_and_rejected_ids_are_fresh():
    raw = generate_trades(300, seed=11)
    lines = [line.split(",") for text in raw.files.values() for line in text.splitlines()[1:]]
    ids = Counter(fields[0] for fields in lines)
    trade_ids = {t.trade_id for t in raw.trades}
    repeated = sum(n - 1 for trade_id, n in ids.items() if trade_id in trade_ids)
    injected = raw.injected
    assert repeated == injected.duplicates + injected.rejected_by_reason["duplicate_trade_id"]


def test_too_few_rows_is_refused():
    with pytest.raises(ValueError, match="rows=5"):
        run_data_lake(5)


@pytest.mark.spark
def test_a_seeded_run_accounts_for_exactly_what_the_generator_injected(small_run):
    injected = generate_trades(**SMALL).injected
    assert small_run.rows_read == injected.rows == 300
    assert small_run.rows_written == injected.trades
    assert small_run.duplicates_removed == injected.duplicates
    assert small_run.rejected_by_reason == injected.rejected_by_reason
    assert small_run.partitions == injected.trade_dates
    assert small_run.curated_rows == small_run.curated_trade_ids == injected.trades
    assert small_run.rejected_rows_stored == sum(injected.rejected_by_reason.values())


@pytest.mark.spark
def test_the_curated_lake_holds_exactly_the_generated_trades(small_run):
    trades = generate_trades(**SMALL).trades
    connection = open_lake(small_run.paths["curated"], small_run.paths["rejected"])
    stored = set(connection.execute("SELECT * FROM trades").fetchall())
    connection.close()
    assert stored == {(t.trade_id, t.symbol, t.side, t.quantity, t.price, t.trade_ts.replace(tzinfo=None),
                       t.trade_date) for t in trades}


@pytest.mark.spark
def test_every_named_query_ran_on_the_lake(small_run):
    assert [r.name for r in small_run.queries] == [q.name for q in load_named_queries()]
    assert all(r.rows for r in small_run.queries)
    volume = small_run.query("daily_volume_vwap").records()
    injected = generate_trades(**SMALL).injected
    assert sum(r["volume"] for r in volume) == injected.volume
    assert sum(r["notional"] for r in volume) == injected.notional


@pytest.mark.spark
def test_the_quality_summary_is_the_one_the_job_wrote(small_run):
    assert small_run.quality["rows_read"] == small_run.rows_read
    assert small_run.paths["quality"].endswith("/trades_etl/local-seed11-rows300.json")


@pytest.mark.spark
def test_a_rerun_on_the_same_lake_gives_the_same_report(small_run, spark):  # noqa: F811
    assert run_data_lake(**SMALL, workdir=small_run.paths["root"], spark=spark) == small_run


@pytest.mark.spark
def test_the_summary_prints_one_line_per_count(small_run):
    lines = small_run.summary()
    assert lines[0].split() == ["raw", "rows", "read", str(small_run.rows_read)]
    assert any(line.startswith("duplicates removed") and line.endswith(str(small_run.duplicates_removed))
               for line in lines)
    assert any("bad_timestamp" in line for line in lines)
    assert small_run.query("top_movers").preview(2)[0].split()[:3] == ["trade_date", "mover_rank", "symbol"]


def test_a_report_that_does_not_add_up_raises():
    with pytest.raises(ReportMismatch, match="rows read 10 != written 5 \\+ duplicates 1 \\+ rejected 2 = 8"):
        DataLakeRunReport(rows_read=10, rows_written=5, duplicates_removed=1, rejected_by_reason={"bad_price": 2},
                          partitions=("2024-05-01",), curated_rows=5, curated_trade_ids=5, rejected_rows_stored=2,
                          queries=(), quality={"rows_by_trade_date": {"2024-05-01": 5}}, paths={})


def test_a_lake_with_duplicate_trade_ids_is_reported():
    with pytest.raises(ReportMismatch, match="1 duplicate trade_ids in the curated Parquet"):
        DataLakeRunReport(rows_read=8, rows_written=5, duplicates_removed=1, rejected_by_reason={"bad_price": 2},
                          partitions=("2024-05-01",), curated_rows=5, curated_trade_ids=4, rejected_rows_stored=2,
                          queries=(), quality={"rows_by_trade_date": {"2024-05-01": 5}}, paths={})
