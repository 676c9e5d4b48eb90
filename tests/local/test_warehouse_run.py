"""The RedshiftWarehouse local run: a seeded curated lake -> the loader's statements on DuckDB
in the Lambda's two phases (twice) -> the analytic queries; the report checks that every row
arrived once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from refarch.local.engines.redshift_local import StatementRun, open_warehouse, run_statement
from refarch.local.engines.redshift_sql import REDSHIFT_ONLY
from refarch.local.generators.curated_lake import write_sample_lake
from refarch.local.generators.trades import REJECT_REASONS
from refarch.local.reports.warehouse import WarehouseReportMismatch, WarehouseRunReport
from refarch.local.warehouse import loader_statements, run_warehouse

SMALL = {"rows": 120, "seed": 13}


@pytest.fixture(scope="module")
def small_run() -> WarehouseRunReport:
    return run_warehouse(**SMALL)


def test_every_curated_trade_is_copied_and_loaded_once(small_run):
    assert small_run.lake_rows == 120
    assert small_run.copied_rows == 120
    assert small_run.loaded_rows == 120
    assert small_run.reloaded_rows == 120          # the second load replaced, did not add


def test_the_run_covers_the_sample_lake(small_run):
    sample = small_run.sample
    assert sample.trades == 120 and len(sample.trade_dates) == 3
    assert small_run.trade_dates == sample.trade_dates == ("2024-05-01", "2024-05-02", "2024-05-03")
    assert small_run.lake_rejected_rows == sample.rejected == len(REJECT_REASONS)  # one per reason at this size
    assert set(sample.rejected_by_reason.values()) == {1}
    assert small_run.symbols == 8


def test_every_loader_statement_ran_in_order_setup_then_load(small_run):
    assert [(s.phase, s.name) for s in small_run.statements] == [(s.phase, s.name) for s in loader_statements()]
    assert [s.name for s in small_run.statements if s.phase == "setup"] == [
        "01_create_schema", "02_create_trades", "03_create_trades_staging", "04_create_symbols",
        "05_create_external_schema", "06_create_loader_user", "07_grant_schema_usage", "08_grant_symbols",
        "09_grant_trades", "10_grant_trades_staging", "11_grant_copy_role", "12_revoke_public_assumerole",
        "13_revoke_public_schema_create"]
    assert [s.name for s in small_run.statements if s.phase == "load"] == [
        "20_delete_symbols", "21_insert_symbols", "22_clear_trades_staging", "23_copy_trades",
        "24_delete_loaded_dates", "25_insert_trades"]
    how = {s.name: s.how for s in small_run.statements}
    assert how["23_copy_trades"] == "local COPY"
    assert how["05_create_external_schema"] == "local Spectrum schema"
    assert {s.how for s in small_run.statements} == {"duckdb", "local COPY", "local Spectrum schema", REDSHIFT_ONLY}


def test_the_loader_user_and_its_grants_are_reported_as_redshift_only_with_the_reason(small_run):
    only = {s.name: s.reason for s in small_run.statements if s.how == REDSHIFT_ONLY}
    assert list(only) == ["06_create_loader_user", "07_grant_schema_usage", "08_grant_symbols", "09_grant_trades",
                          "10_grant_trades_staging", "11_grant_copy_role", "12_revoke_public_assumerole",
        "13_revoke_public_schema_create"]
    assert only["06_create_loader_user"].startswith("DuckDB has no database users")
    assert all(reason.startswith("DuckDB has no privileges") for name, reason in only.items()
               if name != "06_create_loader_user")
    assert any(line.startswith("Redshift only: 11_grant_copy_role") and "DuckDB has no privileges" in line
               for line in small_run.summary_lines())


@pytest.mark.parametrize(("sql", "reason"), [
    ("-- the loader's user\nCREATE USER refarch_loader PASSWORD DISABLE", "DuckDB has no database users"),
    ("GRANT USAGE ON SCHEMA analytics TO refarch_loader", "DuckDB has no privileges"),
    ("grant assumerole on 'arn:aws:iam::123456789012:role/r' to refarch_loader for copy", "DuckDB has no privileges"),
])
def test_users_and_grants_are_reported_as_redshift_only_not_run(sql, reason, tmp_path):
    connection = open_warehouse()
    try:
        run = run_statement(connection, "06_example", sql, tmp_path, phase="setup")
        tables = connection.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT internal").fetchone()[0]
    finally:
        connection.close()
    assert run == StatementRun("setup", "06_example", REDSHIFT_ONLY, None, run.reason)
    assert run.reason.startswith(reason)
    assert tables == 0


def test_the_load_statements_report_their_rows(small_run):
    rows = {s.name: s.rows for s in small_run.statements if s.phase == "load"}
    assert rows == {"20_delete_symbols": 0, "21_insert_symbols": 8, "22_clear_trades_staging": 0,
                    "23_copy_trades": 120, "24_delete_loaded_dates": 0, "25_insert_trades": 120}


def test_the_copy_and_external_schema_checks_pass(small_run):
    assert len(small_run.checks) == 13 and all(small_run.checks.values())


def test_the_queries_ran_and_reconcile(small_run):
    assert [q.name for q in small_run.queries] == ["01_sector_daily_volume", "02_load_reconciliation",
                                                   "03_rejected_by_symbol"]
    days = small_run.query("02_load_reconciliation").records()
    assert [r["status"] for r in days] == ["ok"] * 3
    assert sum(r["lake_rows"] for r in days) == sum(r["warehouse_rows"] for r in days) == 120
    sectors = small_run.query("01_sector_daily_volume").records()
    assert sum(r["volume"] for r in sectors) == small_run.sample.volume
    assert sum(r["notional"] for r in sectors) == small_run.sample.notional
    assert "Unknown" not in {r["sector"] for r in sectors}         # the sample only trades known symbols
    assert sum(r["rejected_rows"] for r in small_run.query("03_rejected_by_symbol").records()) == len(REJECT_REASONS)


def test_the_same_seed_gives_the_same_report(small_run):
    assert run_warehouse(**SMALL) == small_run
    assert run_warehouse(rows=120, seed=14) != small_run


def test_a_given_curated_folder_is_loaded_as_it_is(tmp_path):
    sample = write_sample_lake(tmp_path / "curated", 60, seed=5)
    report = run_warehouse(curated=tmp_path / "curated")
    assert report.sample is None
    assert report.lake_rows == report.loaded_rows == 60
    assert report.trade_dates == sample.trade_dates
    assert report.paths["curated"] == str(tmp_path / "curated")


def test_a_lake_file_in_the_wrong_day_folder_fails_the_reconciliation(tmp_path):
    # trade_date is derived from trade_ts in the warehouse; a file whose trades are not of its folder's
    # day makes the lake and the warehouse disagree, and the report says so.
    root = tmp_path / "curated"
    write_sample_lake(root, 30, seed=5)
    schema = pa.schema([("trade_id", pa.string()), ("symbol", pa.string()), ("side", pa.string()),
                        ("quantity", pa.int64()), ("price", pa.decimal128(18, 4)), ("trade_ts", pa.timestamp("us"))])
    stray = pa.Table.from_pylist([{"trade_id": "S1", "symbol": "AAPL", "side": "BUY", "quantity": 1,
                                   "price": Decimal("1.0000"), "trade_ts": datetime(2024, 5, 2, 12, 0)}], schema=schema)
    pq.write_table(stray, root / "trades" / "trade_date=2024-05-01" / "part-stray.parquet",
                   use_deprecated_int96_timestamps=True)
    with pytest.raises(WarehouseReportMismatch, match="02_load_reconciliation reports gaps: 2024-05-01 mismatch,"
                                                      " 2024-05-02 mismatch"):
        run_warehouse(curated=root)


def test_a_folder_without_trades_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no trades/ folder"):
        run_warehouse(curated=tmp_path)


def test_a_bad_size_is_refused():
    with pytest.raises(ValueError, match="rows=0"):
        run_warehouse(rows=0)


def test_a_report_that_does_not_add_up_raises(small_run):
    fields = {name: getattr(small_run, name) for name in small_run.__dataclass_fields__}
    with pytest.raises(WarehouseReportMismatch, match="reloading changed analytics.trades from 120 to 240 rows"):
        WarehouseRunReport(**{**fields, "reloaded_rows": 240})
    with pytest.raises(AssertionError, match="statement checks failed: copy_format_parquet"):
        WarehouseRunReport(**{**fields, "checks": {**small_run.checks, "copy_format_parquet": False}})


def test_the_summary_prints_one_line_per_count(small_run):
    lines = small_run.summary_lines()
    assert lines[0].split()[:4] == ["curated", "lake", "120", "trades"]
    assert any(line.startswith("analytics.trades") and "120 rows after the load, 120 after a re-run" in line
               for line in lines)
    assert any("13/13 passed" in line for line in lines)
    assert any(line.startswith("loader statements") and "19: setup one by one (01_create_schema," in line
               and "then load as one transaction (20_delete_symbols," in line for line in lines)
    assert small_run.query("02_load_reconciliation").preview(2)[0].split() == [
        "trade_date", "lake_rows", "warehouse_rows", "lake_volume", "warehouse_volume", "status"]
