"""The Athena named queries (sql/athena/*.sql): valid Trino, one statement each, and the
right values when run on DuckDB (after sqlglot transpiles them) over a small hand-made lake
with the ETL job's layout. No Spark: DuckDB writes the Parquet itself."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from refarch.local.data_lake import open_lake
from refarch.local.engines.duckdb_sql import ATHENA_QUERIES, load_named_queries, run_named_query, to_duckdb

QUERY_FILES = sorted(ATHENA_QUERIES.glob("*.sql"))

# trade_id, symbol, side, quantity, price, trade_ts (UTC), trade_date
TRADES = [
    # 2024-05-01
    ("A1", "AAPL", "BUY", 100, "190.0000", "2024-05-01 09:00:00", "2024-05-01"),
    ("A2", "AAPL", "SELL", 50, "192.0000", "2024-05-01 10:00:00", "2024-05-01"),
    ("A3", "AAPL", "BUY", 50, "196.0000", "2024-05-01 11:00:00", "2024-05-01"),
    ("M2", "MSFT", "SELL", 30, "390.0000", "2024-05-01 09:30:00", "2024-05-01"),   # same instant as M1:
    ("M1", "MSFT", "BUY", 10, "400.0000", "2024-05-01 09:30:00", "2024-05-01"),    # M1 opens (trade_id order)
    ("M3", "MSFT", "SELL", 20, "380.0000", "2024-05-01 15:00:00", "2024-05-01"),
    ("N1", "NVDA", "SELL", 5, "880.1000", "2024-05-01 12:00:00", "2024-05-01"),    # one trade: no move
    # 2024-05-02: six symbols that moved, the top five are listed
    ("X1", "XOM", "BUY", 1, "100.0000", "2024-05-02 09:00:00", "2024-05-02"),
    ("X2", "XOM", "SELL", 1, "96.0000", "2024-05-02 16:00:00", "2024-05-02"),      # -4 %
    ("J1", "JPM", "BUY", 1, "200.0000", "2024-05-02 09:00:00", "2024-05-02"),
    ("J2", "JPM", "BUY", 1, "206.0000", "2024-05-02 16:00:00", "2024-05-02"),      # +3 %
    ("K1", "BRK.B", "BUY", 1, "400.0000", "2024-05-02 09:00:00", "2024-05-02"),
    ("K2", "BRK.B", "BUY", 1, "410.0000", "2024-05-02 16:00:00", "2024-05-02"),    # +2.5 %
    ("S1", "MSFT", "SELL", 1, "400.0000", "2024-05-02 09:00:00", "2024-05-02"),
    ("S2", "MSFT", "SELL", 1, "392.0000", "2024-05-02 16:00:00", "2024-05-02"),    # -2 %
    ("P1", "AAPL", "BUY", 1, "200.0000", "2024-05-02 09:00:00", "2024-05-02"),
    ("P2", "AAPL", "BUY", 1, "202.0000", "2024-05-02 16:00:00", "2024-05-02"),     # +1 %
    ("Z1", "AMZN", "BUY", 1, "180.0000", "2024-05-02 09:00:00", "2024-05-02"),
    ("Z2", "AMZN", "SELL", 1, "180.9000", "2024-05-02 16:00:00", "2024-05-02"),    # +0.5 %: sixth
]
# trade_id, reason, trade_date (None: no usable timestamp)
REJECTED = [("B1", "bad_price", "2024-05-01"), ("B2", "bad_price", "2024-05-01"), ("B3", "bad_side", "2024-05-01"),
            ("B4", "bad_timestamp", None), ("B5", "bad_timestamp", None), ("B6", "bad_timestamp", None),
            ("B7", "malformed_row", None)]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> tuple[Path, Path]:
    """Curated and rejected Parquet, Hive-partitioned by trade_date as the ETL job writes them."""
    root = tmp_path_factory.mktemp("lake")
    writer = duckdb.connect()
    writer.execute("CREATE TABLE trades (trade_id VARCHAR, symbol VARCHAR, side VARCHAR, quantity BIGINT,"
                   " price DECIMAL(18, 4), trade_ts TIMESTAMP, trade_date VARCHAR)")
    writer.executemany("INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?)", TRADES)
    writer.execute("CREATE TABLE rejected AS SELECT trade_id, 'AAPL' AS symbol, 'BUY' AS side, '1' AS quantity,"
                   " '1.00' AS price, NULL::VARCHAR AS trade_ts, NULL::VARCHAR AS malformed_record, reason, trade_date"
                   " FROM (VALUES " + ", ".join("(?, ?, ?::VARCHAR)" for _ in REJECTED) +
                   ") AS r(trade_id, reason, trade_date)", [v for row in REJECTED for v in row])
    for table, folder in (("trades", "trades"), ("rejected", "trades_rejected")):
        writer.execute(f"COPY {table} TO '{root / folder}' (FORMAT parquet, PARTITION_BY (trade_date))")
    writer.close()
    return root / "trades", root / "trades_rejected"


@pytest.fixture(scope="module")
def connection(lake):
    connection = open_lake(*lake)
    yield connection
    connection.close()


def result(connection, name: str) -> list[tuple]:
    query = next(q for q in load_named_queries() if q.name == name)
    return list(run_named_query(connection, query).rows)


# --- every file ------------------------------------------------------------------------

def test_there_are_named_queries():
    assert {p.stem for p in QUERY_FILES} >= {"daily_volume_vwap", "top_movers", "rejected_rows_report"}


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_each_file_is_one_trino_statement(path):
    statements = [s for s in sqlglot.parse(path.read_text(), read="trino") if s is not None]
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Query)   # a SELECT (or WITH ... SELECT), nothing that writes


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_each_file_reads_unqualified_tables_of_the_lake(path):
    tables = {(t.catalog, t.db, t.name) for t in sqlglot.parse_one(path.read_text(), read="trino").find_all(exp.Table)}
    ctes = {cte.alias for cte in sqlglot.parse_one(path.read_text(), read="trino").find_all(exp.CTE)}
    assert {name for _, _, name in tables} - ctes <= {"trades", "trades_rejected"}
    assert all(catalog == "" and db == "" for catalog, db, _ in tables)   # the workgroup picks the database


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_each_file_starts_with_a_description_athena_accepts(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("-- ") and 20 <= len(first[3:]) <= 1024    # Athena: description <= 1024 chars
    assert 1 <= len(path.stem) <= 128                                   # Athena: name <= 128 chars
    assert next(q for q in load_named_queries() if q.name == path.stem).description == first[3:]


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_each_query_runs_on_duckdb_over_the_lake(connection, path):
    rows = connection.execute(to_duckdb(path.read_text())).fetchall()
    assert rows


def test_the_lake_views_have_the_glue_table_types(connection):
    types = dict(connection.execute("SELECT column_name, column_type FROM (DESCRIBE trades)").fetchall())
    assert types == {"trade_id": "VARCHAR", "symbol": "VARCHAR", "side": "VARCHAR", "quantity": "BIGINT",
                     "price": "DECIMAL(18,4)", "trade_ts": "TIMESTAMP", "trade_date": "VARCHAR"}
    assert connection.execute("SELECT trade_ts FROM trades WHERE trade_id = 'M3'").fetchone() == (
        datetime(2024, 5, 1, 15, 0),)


# --- values, computed by hand ----------------------------------------------------------

def test_daily_volume_vwap_values(connection):
    rows = {(r[0], r[1]): r[2:] for r in result(connection, "daily_volume_vwap")}
    # AAPL 2024-05-01: 100 @ 190 + 50 @ 192 + 50 @ 196 = 19000 + 9600 + 9800 = 38400 over 200 shares
    assert rows["2024-05-01", "AAPL"] == (3, 200, 150, 50, Decimal("38400.0000"), Decimal("192.0000"),
                                          Decimal("190.0000"), Decimal("196.0000"))
    # MSFT 2024-05-01: 10 @ 400 + 30 @ 390 + 20 @ 380 = 4000 + 11700 + 7600 = 23300 over 60 = 388.33333...
    assert rows["2024-05-01", "MSFT"] == (3, 60, 10, 50, Decimal("23300.0000"), Decimal("388.3333"),
                                          Decimal("380.0000"), Decimal("400.0000"))
    assert rows["2024-05-01", "NVDA"] == (1, 5, 0, 5, Decimal("4400.5000"), Decimal("880.1000"),
                                          Decimal("880.1000"), Decimal("880.1000"))
    # AMZN 2024-05-02: (180 + 180.9) / 2 = 180.45
    assert rows["2024-05-02", "AMZN"][5] == Decimal("180.4500")


def test_daily_volume_vwap_has_one_row_per_day_and_symbol_in_order(connection):
    keys = [(r[0], r[1]) for r in result(connection, "daily_volume_vwap")]
    assert keys == sorted({(t[6], t[1]) for t in TRADES})


def test_top_movers_values(connection):
    rows = result(connection, "top_movers")
    # (trade_date, rank, symbol, trades, open, close, change %)
    assert rows == [
        ("2024-05-01", 1, "MSFT", 3, Decimal("400.0000"), Decimal("380.0000"), -5.0),    # 380 / 400 - 1
        ("2024-05-01", 2, "AAPL", 3, Decimal("190.0000"), Decimal("196.0000"), 3.16),    # 196 / 190 - 1 = 3.1579 %
        ("2024-05-02", 1, "XOM", 2, Decimal("100.0000"), Decimal("96.0000"), -4.0),
        ("2024-05-02", 2, "JPM", 2, Decimal("200.0000"), Decimal("206.0000"), 3.0),
        ("2024-05-02", 3, "BRK.B", 2, Decimal("400.0000"), Decimal("410.0000"), 2.5),
        ("2024-05-02", 4, "MSFT", 2, Decimal("400.0000"), Decimal("392.0000"), -2.0),
        ("2024-05-02", 5, "AAPL", 2, Decimal("200.0000"), Decimal("202.0000"), 1.0),
    ]   # NVDA (one trade) and AMZN (sixth on 2024-05-02) are not listed


def test_rejected_rows_report_values(connection):
    assert result(connection, "rejected_rows_report") == [
        # (trade_date, reason, rows, share of the date's rejected rows %, first id, last id)
        ("2024-05-01", "bad_price", 2, 66.7, "B1", "B2"),
        ("2024-05-01", "bad_side", 1, 33.3, "B3", "B3"),
        ("unknown", "bad_timestamp", 3, 75.0, "B4", "B6"),
        ("unknown", "malformed_row", 1, 25.0, "B7", "B7"),
    ]
