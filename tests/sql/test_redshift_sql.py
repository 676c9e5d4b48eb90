"""The warehouse SQL (sql/redshift/setup/*.sql and sql/redshift/load/*.sql, run by the loader
Lambda, and sql/redshift/queries/*.sql, the analytic queries): valid Redshift for sqlglot, one
statement per file, DDL in setup/ and only the reload in load/, the COPY and the external schema
pointing at the right placeholders, the physical design we document, and the right values when
the loader's two phases and the queries run on DuckDB over a small
hand-made curated lake (Parquet written as the Glue job writes it: INT96 trade_ts, trade_date
only in the folder names). No Spark, no AWS."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from refarch.local.engines.redshift_local import (
    LOCAL_VARIABLES,
    attach_lake,
    open_warehouse,
    run_statement,
    write_full_manifest,
)
from refarch.local.engines.redshift_sql import (
    copy_parts,
    external_schema_parts,
    redshift_only_reason,
    redshift_to_duckdb,
    run_query,
)
from refarch.local.lake_catalog import TRADES_COLUMNS
from refarch.local.warehouse import (
    WAREHOUSE_QUERIES,
    WAREHOUSE_SQL,
    copy_checks,
    external_schema_checks,
    loader_sql_text,
    loader_statements,
    replay,
    statement_checks,
    statement_files,
    warehouse_queries,
)
from tests.lambda_loader import load as load_lambda

loader_sql = load_lambda("redshift_loader", "redshift_loader_sql")
SETUP_FILES = sorted((WAREHOUSE_SQL / "setup").glob("*.sql"))
LOAD_FILES = sorted((WAREHOUSE_SQL / "load").glob("*.sql"))
LOADER_FILES = SETUP_FILES + LOAD_FILES          # the run order: setup, then load
QUERY_FILES = sorted(WAREHOUSE_QUERIES.glob("*.sql"))
ALL_FILES = LOADER_FILES + QUERY_FILES
EXTERNAL_SCHEMA_FILE = WAREHOUSE_SQL / "setup" / "05_create_external_schema.sql"
COPY_FILE = WAREHOUSE_SQL / "load" / "23_copy_trades.sql"
PLACEHOLDERS = {"CURATED_BUCKET", "COPY_ROLE_ARN", "SPECTRUM_ROLE_ARN", "LAKE_DATABASE", "LOADER_USER",
                "LOAD_MANIFEST"}   # the last from the event: the ETL run being loaded


def text(path: Path) -> str:
    return path.read_text()


def parse(path: Path) -> list[exp.Expression]:
    return [s for s in sqlglot.parse(text(path), read="redshift", error_level=ErrorLevel.RAISE) if s is not None]


def ids(path: Path) -> str:
    return path.relative_to(WAREHOUSE_SQL).as_posix()


# --- every file ---------------------------------------------------------------------------------

def test_the_loader_and_query_files_exist():
    assert [p.stem for p in LOADER_FILES][:2] == ["01_create_schema", "02_create_trades"]
    assert COPY_FILE in LOAD_FILES and EXTERNAL_SCHEMA_FILE in SETUP_FILES
    assert len(QUERY_FILES) >= 2


def test_no_statement_file_is_left_outside_the_phase_folders():
    # The loader refuses a *.sql directly in sql/redshift (it would otherwise never run).
    assert sorted(path.name for path in WAREHOUSE_SQL.iterdir()) == ["load", "queries", "setup", "streaming"]


def test_statement_files_lists_both_phases_in_run_order():
    assert list(statement_files()) == [path.stem for path in LOADER_FILES]


@pytest.mark.parametrize("path", ALL_FILES, ids=ids)
def test_each_file_is_exactly_one_redshift_statement(path):
    assert len(parse(path)) == 1


@pytest.mark.parametrize("path", ALL_FILES, ids=ids)
def test_each_file_starts_with_a_comment_describing_it(path):
    first = text(path).splitlines()[0]
    assert first.startswith("-- ") and len(first) > 30


@pytest.mark.parametrize("path", ALL_FILES, ids=ids)
def test_each_file_name_carries_a_two_digit_order(path):
    assert re.fullmatch(r"[0-9]{2}_[a-z0-9_]+", path.stem)


def test_the_loader_files_have_distinct_orders_and_setup_is_numbered_before_load():
    orders = [p.stem[:2] for p in LOADER_FILES]
    assert len(orders) == len(set(orders))
    assert orders == sorted(orders)                 # the file names alone say the run order


@pytest.mark.parametrize("path", ALL_FILES, ids=ids)
def test_only_the_known_placeholders_are_used(path):
    assert set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text(path))) <= PLACEHOLDERS


@pytest.mark.parametrize("path", QUERY_FILES, ids=ids)
def test_each_analytic_query_only_reads(path):
    [statement] = parse(path)
    assert isinstance(statement, exp.Query)


@pytest.mark.parametrize("path", QUERY_FILES, ids=ids)
def test_each_analytic_query_joins_the_warehouse_with_the_lake(path):
    [statement] = parse(path)
    schemas = {table.db for table in statement.find_all(exp.Table) if table.db}
    assert schemas == {"analytics", "lake"}
    assert list(statement.find_all(exp.Join))


@pytest.mark.parametrize("path", SETUP_FILES, ids=ids)
def test_each_setup_statement_is_re_runnable(path):
    # Setup statements commit one by one and run again on every stack update: re-running must be
    # harmless. CREATE ... IF NOT EXISTS and GRANT (granting a held privilege changes nothing) are;
    # REVOKE of a privilege not held changes nothing; CREATE USER has no IF NOT EXISTS, so it carries
    # a skip-if guard the runner sends first.
    guard = loader_sql.guard(text(path), source=path.name)
    if path == EXTERNAL_SCHEMA_FILE:           # an opaque command for sqlglot: checked on its text
        assert re.search(r"CREATE EXTERNAL SCHEMA IF NOT EXISTS", text(path)) and guard is None
        return
    [statement] = parse(path)
    words = [token.text.upper() for token in sqlglot.tokenize(text(path), read="redshift")[:2]]
    if isinstance(statement, (exp.Grant, exp.Revoke)) or words[0] in ("GRANT", "REVOKE"):
        assert guard is None
    elif words[:2] == ["CREATE", "USER"]:
        assert guard, f"{path.name}: not idempotent in Redshift, needs a skip-if guard"
    else:
        assert isinstance(statement, exp.Create) and statement.args.get("exists"), f"{path.name}: not CREATE IF NOT EXISTS"
        assert guard is None


def test_the_loader_user_is_created_only_when_pg_user_does_not_list_it():
    path = WAREHOUSE_SQL / "setup" / "06_create_loader_user.sql"
    assert loader_sql.guard(text(path)) == "SELECT 1 FROM pg_user WHERE usename = '${LOADER_USER}'"
    [statement] = parse(path)
    assert statement.sql("redshift", comments=False) == 'CREATE USER "${LOADER_USER}" PASSWORD DISABLE'   # IAM credentials only


def test_public_loses_the_cluster_roles_on_every_setup_after_the_loader_is_granted_its_own():
    path = WAREHOUSE_SQL / "setup" / "12_revoke_public_assumerole.sql"
    names = [p.stem for p in SETUP_FILES]
    assert names.index("12_revoke_public_assumerole") == names.index("11_grant_copy_role") + 1
    assert loader_sql.guard(text(path)) is None     # a guard on the system views would skip it for good
    [statement] = parse(path)
    assert statement.sql("redshift", comments=False) == "REVOKE ASSUMEROLE ON ALL FROM PUBLIC FOR ALL"


def test_public_may_not_create_tables_in_schema_public_so_the_loader_runs_no_ddl():
    path = WAREHOUSE_SQL / "setup" / "13_revoke_public_schema_create.sql"
    assert loader_sql.guard(text(path)) is None
    [statement] = parse(path)
    assert statement.sql("redshift", comments=False) == "REVOKE CREATE ON SCHEMA public FROM PUBLIC"


@pytest.mark.parametrize("path", LOAD_FILES, ids=ids)
def test_each_load_statement_is_dml_that_a_transaction_can_roll_back(path):
    # The load batch is one transaction: no DDL in it (external DDL may not run in a transaction
    # block), and no TRUNCATE, which commits the transaction it runs in.
    [statement] = parse(path)
    assert isinstance(statement, (exp.Delete, exp.Insert, exp.Copy)), f"{path.name}: {type(statement).__name__}"


def test_the_symbols_dimension_is_replaced_inside_the_load_transaction():
    # Delete and insert commit together: readers never see the dimension empty.
    [delete] = parse(WAREHOUSE_SQL / "load" / "20_delete_symbols.sql")
    [insert] = parse(WAREHOUSE_SQL / "load" / "21_insert_symbols.sql")
    assert isinstance(delete, exp.Delete) and delete.this.sql("redshift") == "analytics.symbols"
    assert delete.args.get("where") is None
    assert isinstance(insert, exp.Insert) and insert.this.this.sql("redshift") == "analytics.symbols"


# --- the COPY ----------------------------------------------------------------------------------------

def test_the_copy_is_parsed_by_sqlglot_as_a_copy_of_one_etl_runs_manifest():
    [statement] = parse(COPY_FILE)
    assert isinstance(statement, exp.Copy) and statement.args["kind"] is True          # COPY ... FROM
    assert statement.this.sql("redshift") == "analytics.trades_staging"                # no column list
    assert [f.name for f in statement.args["files"]] == ["${LOAD_MANIFEST}"]
    assert statement.args["credentials"].args["iam_role"].name == "${COPY_ROLE_ARN}"
    params = {p.this.name.upper(): (p.expression.name.upper() if p.expression else "")
              for p in statement.args["params"]}
    assert params == {"FORMAT": "PARQUET", "MANIFEST": ""}


def test_the_copy_says_format_as_parquet_manifest_in_the_file():
    # sqlglot normalises FORMAT AS PARQUET to FORMAT PARQUET (both are Redshift), so the file's own
    # wording is checked with a focused pattern.
    assert re.search(r"\bFORMAT\s+AS\s+PARQUET\s+MANIFEST\s*;\s*$", text(COPY_FILE))


def test_the_staging_table_has_exactly_the_parquet_columns_in_file_order():
    # COPY from Parquet maps by position and needs as many columns as the files: the curated
    # columns without trade_date (a partition column, only in the path).
    [ddl] = parse(WAREHOUSE_SQL / "setup" / "03_create_trades_staging.sql")
    columns = [column.name for column in ddl.this.expressions if isinstance(column, exp.ColumnDef)]
    assert columns == [name for name in TRADES_COLUMNS if name != "trade_date"]


def test_copy_checks_are_all_true_for_the_file_and_false_for_a_wrong_one():
    assert all(copy_checks(text(COPY_FILE)).values())
    wrong = copy_checks("COPY analytics.trades_staging FROM 's3://other-bucket/trades' IAM_ROLE 'arn:x'"
                        " FORMAT AS CSV")
    assert not any(wrong[key] for key in ("copy_manifest_placeholder", "copy_reads_a_manifest",
                                          "copy_role_placeholder", "copy_format_parquet"))


# --- the external schema ------------------------------------------------------------------------------

def test_sqlglot_keeps_create_external_schema_as_an_opaque_command():
    # A gap in sqlglot 30: no grammar for CREATE EXTERNAL SCHEMA (it warns and falls back to
    # exp.Command). So the statement is checked on its tokens instead (external_schema_parts).
    [statement] = parse(EXTERNAL_SCHEMA_FILE)
    assert isinstance(statement, exp.Command)


def test_the_external_schema_maps_the_lake_database_with_the_spectrum_role():
    parts = external_schema_parts(text(EXTERNAL_SCHEMA_FILE))
    assert parts == {"schema": "lake", "database": "${LAKE_DATABASE}", "role": "${SPECTRUM_ROLE_ARN}",
                     "if_not_exists": "yes"}
    assert all(external_schema_checks(text(EXTERNAL_SCHEMA_FILE)).values())


def test_the_external_schema_pattern_is_not_fooled_by_other_statements():
    assert external_schema_parts("CREATE SCHEMA IF NOT EXISTS lake") is None
    assert external_schema_parts("CREATE EXTERNAL SCHEMA lake FROM HIVE METASTORE DATABASE 'd' URI 'h'"
                                 " IAM_ROLE 'r'") is None
    assert external_schema_parts("-- a comment; with a semicolon\ncreate external schema Lake from data catalog"
                                 " database 'db' iam_role 'arn:r';") == {
        "schema": "lake", "database": "db", "role": "arn:r", "if_not_exists": ""}


def test_statement_checks_of_the_loader_files_all_pass():
    checks = statement_checks()
    assert checks and all(checks.values()), checks


# --- the physical design -------------------------------------------------------------------------------

def properties(path: Path) -> dict[str, exp.Expression]:
    [ddl] = parse(path)
    return {type(p).__name__: p for p in ddl.find_all(exp.DistStyleProperty, exp.DistKeyProperty,
                                                        exp.SortKeyProperty, exp.BackupProperty)}


def test_trades_is_distributed_by_trade_id_and_sorted_by_date_then_time():
    found = properties(WAREHOUSE_SQL / "setup" / "02_create_trades.sql")
    assert found["DistStyleProperty"].this.name == "KEY"
    assert found["DistKeyProperty"].this.name == "trade_id"
    assert [c.name for c in found["SortKeyProperty"].this] == ["trade_date", "trade_ts"]
    assert found["SortKeyProperty"].args.get("compound") is True


def test_staging_shares_the_distribution_key_and_is_left_out_of_snapshots():
    found = properties(WAREHOUSE_SQL / "setup" / "03_create_trades_staging.sql")
    assert found["DistKeyProperty"].this.name == "trade_id"
    assert found["BackupProperty"].this.name == "NO"


def test_the_symbols_dimension_is_copied_to_every_node():
    assert properties(WAREHOUSE_SQL / "setup" / "04_create_symbols.sql")["DistStyleProperty"].this.name == "ALL"


def test_sqlglot_refuses_redshift_physical_design_for_duckdb_so_it_is_removed_first():
    ddl = text(WAREHOUSE_SQL / "setup" / "02_create_trades.sql")
    with pytest.raises(UnsupportedError, match="diststyleproperty"):
        sqlglot.transpile(ddl, read="redshift", write="duckdb", unsupported_level=ErrorLevel.RAISE)
    duck = re.sub(r"/\*.*?\*/", "", redshift_to_duckdb(ddl), flags=re.DOTALL).strip()   # without the comments
    assert not re.search(r"DISTSTYLE|DISTKEY|SORTKEY|BACKUP|ENCODE", duck, re.IGNORECASE)
    assert duck.startswith("CREATE TABLE IF NOT EXISTS analytics.trades (")
    assert duck.endswith("trade_date DATE NOT NULL, PRIMARY KEY (trade_id))")


# --- on DuckDB, over a hand-made lake ---------------------------------------------------------------------

# trade_id, symbol, side, quantity, price, trade_ts (UTC); the trade_date partition is the UTC day.
TRADES = [
    ("A1", "AAPL", "BUY", 100, "190.0000", datetime(2024, 5, 1, 0, 0, 0)),               # first instant of the day
    ("A2", "AAPL", "SELL", 50, "192.0000", datetime(2024, 5, 1, 10, 0)),
    ("M1", "MSFT", "BUY", 10, "400.0000", datetime(2024, 5, 1, 9, 30)),
    ("J1", "JPM", "SELL", 20, "200.5000", datetime(2024, 5, 1, 23, 59, 59, 999000)),   # last millisecond
    ("T1", "TSLA", "BUY", 5, "180.0000", datetime(2024, 5, 1, 12, 0)),                 # not in the dimension
    ("N1", "NVDA", "BUY", 3, "880.1000", datetime(2024, 5, 2, 0, 0, 0, 1000)),
    ("X1", "XOM", "SELL", 40, "115.2500", datetime(2024, 5, 2, 15, 0)),
    ("K1", "BRK.B", "BUY", 2, "405.0000", datetime(2024, 5, 2, 16, 0)),
    ("Z1", "AMZN", "BUY", 7, "180.5000", datetime(2024, 5, 3, 9, 0)),
]
# trade_id, raw symbol, reason, trade_date partition (None: Spark's null partition)
REJECTED = [
    ("B1", "AAPL", "bad_price", "2024-05-01"),
    ("B2", " aapl ", "bad_price", "2024-05-01"),
    ("B3", "AAPL", "bad_side", "2024-05-02"),
    ("B4", "BRK/B", "bad_symbol", "2024-05-01"),
    ("B5", "", "bad_symbol", "2024-05-02"),
    ("B6", None, "malformed_row", None),
    ("B7", "XOM", "bad_timestamp", None),
    ("B8", "TSLA", "bad_quantity", "2024-05-01"),
]
TRADE_SCHEMA = pa.schema([("trade_id", pa.string()), ("symbol", pa.string()), ("side", pa.string()),
                          ("quantity", pa.int64()), ("price", pa.decimal128(18, 4)), ("trade_ts", pa.timestamp("us"))])
REJECTED_SCHEMA = pa.schema([(name, pa.string()) for name in (
    "trade_id", "symbol", "side", "quantity", "price", "trade_ts", "malformed_record", "reason")])


def write_trades(curated: Path, trades: list[tuple]) -> None:
    """The Glue job's layout: trades/trade_date=YYYY-MM-DD/part-*.parquet, INT96 timestamps
    (Spark's default), no trade_date column in the files; replaces the days it writes."""
    days: dict[str, list[tuple]] = {}
    for trade in trades:
        days.setdefault(trade[5].strftime("%Y-%m-%d"), []).append(trade)
    for day, rows in days.items():
        folder = curated / "trades" / f"trade_date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        table = pa.Table.from_pylist([dict(zip(TRADE_SCHEMA.names, (*row[:4], Decimal(row[4]), row[5])))
                                      for row in rows], schema=TRADE_SCHEMA)
        pq.write_table(table, folder / "part-00000-c000.snappy.parquet", use_deprecated_int96_timestamps=True)
    (curated / "trades" / "_SUCCESS").write_bytes(b"")


def write_rejected(curated: Path) -> None:
    days: dict[str | None, list[dict]] = {}
    for trade_id, symbol, reason, day in REJECTED:
        malformed = reason == "malformed_row"
        days.setdefault(day, []).append({
            "trade_id": None if malformed else trade_id, "symbol": symbol, "side": None if malformed else "BUY",
            "quantity": None if malformed else "1", "price": None if malformed else "1.00",
            "trade_ts": None if malformed else ("yesterday" if day is None else f"{day}T10:00:00Z"),
            "malformed_record": "x,y" if malformed else None, "reason": reason})
    for day, rows in days.items():
        folder = curated / "trades_rejected" / f"trade_date={day or '__HIVE_DEFAULT_PARTITION__'}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=REJECTED_SCHEMA), folder / "part-00000.c000.snappy.parquet")


@pytest.fixture
def curated(tmp_path) -> Path:
    root = tmp_path / "curated"
    write_trades(root, TRADES)
    write_rejected(root)
    return root


def load(connection, curated: Path) -> dict[str, int | None]:
    """Every loader statement, in the Lambda's two phases, the local way; rows per statement.
    The COPY reads a manifest of every curated file, as after a full ETL run."""
    write_full_manifest(curated)
    return {run.name: run.rows for run in replay(connection, loader_statements(), curated)}


@pytest.fixture
def warehouse(curated):
    connection = open_warehouse()
    load(connection, curated)
    yield connection
    connection.close()


def query(connection, name: str) -> list[tuple]:
    return list(run_query(connection, next(q for q in warehouse_queries() if q.name == name)).rows)


def test_every_ddl_and_query_transpiles_to_duckdb():
    for path in ALL_FILES:
        if path == EXTERNAL_SCHEMA_FILE or path == COPY_FILE:
            continue                          # run locally by their own equivalents (see warehouse.py)
        if redshift_only_reason(text(path)):
            continue                          # users and grants: DuckDB has neither (reported, not run)
        assert redshift_to_duckdb(text(path))


def test_exactly_the_user_and_grant_statements_are_redshift_only():
    assert [path.stem for path in ALL_FILES if redshift_only_reason(text(path))] == [
        "06_create_loader_user", "07_grant_schema_usage", "08_grant_symbols", "09_grant_trades",
        "10_grant_trades_staging", "11_grant_copy_role", "12_revoke_public_assumerole",
        "13_revoke_public_schema_create"]


def test_the_local_statements_are_the_lambdas_with_the_local_values(curated):
    assert f"FROM '{LOCAL_VARIABLES['LOAD_MANIFEST']}'" in loader_sql_text("23_copy_trades")


def test_the_local_replay_runs_setup_then_the_load_in_file_order(curated):
    write_full_manifest(curated)
    runs = replay(open_warehouse(), loader_statements(), curated)
    assert [(run.phase, run.name) for run in runs] == (
        [("setup", path.stem) for path in SETUP_FILES] + [("load", path.stem) for path in LOAD_FILES])


def test_a_failing_load_statement_rolls_the_whole_local_reload_back(warehouse, curated):
    # The load batch is one transaction on DuckDB as on Redshift: the COPY finds no files, so the
    # dimension and staging deletes before it are undone and the warehouse keeps the last load.
    before = warehouse.execute("SELECT count(*) FROM analytics.trades").fetchone()
    for path in (curated / "trades").rglob("*.parquet"):
        path.unlink()
    with pytest.raises(ValueError, match="local.manifest: mandatory file s3://refarch-local-curated/trades/.* is missing"):
        replay(warehouse, loader_statements(), curated)
    assert warehouse.execute("SELECT count(*) FROM analytics.symbols").fetchone() == (8,)
    assert warehouse.execute("SELECT count(*) FROM analytics.trades_staging").fetchone() == (len(TRADES),)
    assert warehouse.execute("SELECT count(*) FROM analytics.trades").fetchone() == before == (len(TRADES),)


def test_the_load_copies_every_curated_trade_and_derives_trade_date_from_trade_ts(curated):
    connection = open_warehouse()
    rows = load(connection, curated)
    assert rows["23_copy_trades"] == len(TRADES) == rows["25_insert_trades"]
    assert rows["24_delete_loaded_dates"] == 0                       # an empty warehouse
    stored = connection.execute("SELECT trade_id, symbol, side, quantity, price, trade_ts, trade_date"
                                " FROM analytics.trades ORDER BY trade_id").fetchall()
    assert stored == sorted((t[0], t[1], t[2], t[3], Decimal(t[4]), t[5], t[5].date()) for t in TRADES)


def test_the_warehouse_tables_have_the_declared_types_on_duckdb(warehouse):
    types = dict(warehouse.execute("SELECT column_name, data_type FROM information_schema.columns"
                                   " WHERE table_schema = 'analytics' AND table_name = 'trades'").fetchall())
    assert types == {"trade_id": "VARCHAR", "symbol": "VARCHAR", "side": "VARCHAR", "quantity": "BIGINT",
                     "price": "DECIMAL(18,4)", "trade_ts": "TIMESTAMP", "trade_date": "DATE"}


def test_the_symbols_dimension_is_loaded(warehouse):
    assert warehouse.execute("SELECT symbol, sector FROM analytics.symbols WHERE symbol IN ('BRK.B', 'XOM')"
                             " ORDER BY symbol").fetchall() == [("BRK.B", "Financials"), ("XOM", "Energy")]


def test_running_the_load_again_changes_nothing(warehouse, curated):
    before = warehouse.execute("SELECT * FROM analytics.trades ORDER BY trade_id").fetchall()
    rows = load(warehouse, curated)
    assert rows["24_delete_loaded_dates"] == len(TRADES)              # every day replaced whole ...
    assert warehouse.execute("SELECT * FROM analytics.trades ORDER BY trade_id").fetchall() == before   # ... by itself
    assert warehouse.execute("SELECT count(*) FROM analytics.symbols").fetchone() == (8,)


def test_a_rewritten_lake_day_replaces_the_warehouse_day(warehouse, curated):
    # The Glue job rewrote 2024-05-01 without A2 (say, rejected on a re-run): the reload follows.
    write_trades(curated, [t for t in TRADES if t[0] != "A2" and t[5].day == 1])
    load(warehouse, curated)
    assert warehouse.execute("SELECT count(*) FROM analytics.trades WHERE trade_id = 'A2'").fetchone() == (0,)
    assert warehouse.execute("SELECT count(*) FROM analytics.trades").fetchone() == (len(TRADES) - 1,)


def test_the_local_copy_maps_by_position_and_refuses_a_column_count_mismatch(curated):
    connection = open_warehouse()
    connection.execute("CREATE SCHEMA analytics")
    connection.execute("CREATE TABLE analytics.trades_staging (trade_id VARCHAR, symbol VARCHAR)")
    write_full_manifest(curated)
    with pytest.raises(ValueError, match=r"maps columns by position: trades/trade_date=2024-05-01/.* has 6 columns"):
        run_statement(connection, "23_copy_trades", loader_sql_text("23_copy_trades"), curated)


def test_a_copy_of_a_prefix_without_the_slash_would_also_read_trades_rejected(curated):
    # Why the COPY reads a manifest of named files rather than a prefix: 's3://b/trades' matches trades_rejected/ too.
    connection = open_warehouse()
    for statement in loader_statements()[:3]:          # schema, trades, staging
        run_statement(connection, statement.name, statement.sql, curated)
    sloppy = (loader_sql_text("23_copy_trades").replace(LOCAL_VARIABLES["LOAD_MANIFEST"], "s3://refarch-local-curated/trades")
              .replace("\nMANIFEST", ""))
    with pytest.raises(ValueError, match="trades_rejected/.* has 8 columns"):
        run_statement(connection, "23_copy_trades", sloppy, curated)


def test_a_manifest_whose_size_is_not_the_files_fails_the_copy(curated):
    manifest = write_full_manifest(curated)
    document = json.loads(manifest.read_text())
    document["entries"][0]["meta"]["content_length"] += 1
    manifest.write_text(json.dumps(document))
    connection = open_warehouse()
    for statement in loader_statements()[:3]:
        run_statement(connection, statement.name, statement.sql, curated)
    with pytest.raises(ValueError, match="the manifest says"):
        run_statement(connection, "23_copy_trades", loader_sql_text("23_copy_trades"), curated)


def test_the_lake_schema_reads_the_parquet_with_the_catalog_types(warehouse):
    assert warehouse.execute("SELECT count(*), count(DISTINCT trade_date) FROM lake.trades").fetchone() == (9, 3)
    assert warehouse.execute("SELECT trade_ts FROM lake.trades WHERE trade_id = 'J1'").fetchone() == (
        datetime(2024, 5, 1, 23, 59, 59, 999000),)                     # INT96 read back to the millisecond
    assert warehouse.execute("SELECT count(*) FROM lake.trades_rejected WHERE trade_date IS NULL").fetchone() == (2,)


def test_sector_daily_volume_values(warehouse):
    assert query(warehouse, "01_sector_daily_volume") == [
        # trade_date, sector, symbols, trades, volume, notional
        ("2024-05-01", "Financials", 1, 1, 20, Decimal("4010.0000")),                 # 20 x 200.5
        ("2024-05-01", "Information Technology", 2, 3, 160, Decimal("32600.0000")),   # 19000 + 9600 + 4000
        ("2024-05-01", "Unknown", 1, 1, 5, Decimal("900.0000")),                      # TSLA: not in the dimension
        ("2024-05-02", "Energy", 1, 1, 40, Decimal("4610.0000")),                     # 40 x 115.25
        ("2024-05-02", "Financials", 1, 1, 2, Decimal("810.0000")),
        ("2024-05-02", "Information Technology", 1, 1, 3, Decimal("2640.3000")),      # 3 x 880.1
        ("2024-05-03", "Consumer Discretionary", 1, 1, 7, Decimal("1263.5000")),      # 7 x 180.5
    ]


def test_load_reconciliation_is_all_ok_after_a_load(warehouse):
    assert query(warehouse, "02_load_reconciliation") == [
        # trade_date, lake rows, warehouse rows, lake volume, warehouse volume, status
        (date(2024, 5, 1), 5, 5, 185, 185, "ok"),
        (date(2024, 5, 2), 3, 3, 45, 45, "ok"),
        (date(2024, 5, 3), 1, 1, 7, 7, "ok"),
    ]


def test_load_reconciliation_finds_missing_partial_and_stale_days(warehouse, curated):
    write_trades(curated, [("Q1", "AAPL", "BUY", 9, "191.0000", datetime(2024, 5, 4, 9, 0))])   # a new lake day
    run_statement(warehouse, "05_create_external_schema",
                  loader_sql_text("05_create_external_schema"), curated)                       # ... catalogued
    warehouse.execute("DELETE FROM analytics.trades WHERE trade_id = 'A2'")                    # a partial day
    warehouse.execute("INSERT INTO analytics.trades VALUES ('OLD', 'AAPL', 'BUY', 4, 1.0,"
                      " TIMESTAMP '2024-04-30 10:00:00', DATE '2024-04-30')")                 # gone from the lake
    assert query(warehouse, "02_load_reconciliation") == [
        (date(2024, 4, 30), 0, 1, 0, 4, "missing_in_lake"),
        (date(2024, 5, 1), 5, 4, 185, 135, "mismatch"),
        (date(2024, 5, 2), 3, 3, 45, 45, "ok"),
        (date(2024, 5, 3), 1, 1, 7, 7, "ok"),
        (date(2024, 5, 4), 1, 0, 9, 0, "missing_in_warehouse"),
    ]


def test_rejected_by_symbol_values(warehouse):
    assert query(warehouse, "03_rejected_by_symbol") == [
        # symbol (trimmed, upper case), company, sector, rejected rows, reasons (most frequent first)
        ("AAPL", "Apple Inc.", "Information Technology", 3, "bad_price 2, bad_side 1"),
        ("(none)", None, None, 2, "bad_symbol 1, malformed_row 1"),
        ("BRK/B", None, None, 1, "bad_symbol 1"),
        ("TSLA", None, None, 1, "bad_quantity 1"),
        ("XOM", "Exxon Mobil Corporation", "Energy", 1, "bad_timestamp 1"),
    ]


def test_an_empty_rejected_output_gives_an_empty_report(tmp_path):
    root = tmp_path / "curated"
    write_trades(root, TRADES)
    connection = open_warehouse()
    load(connection, root)
    assert query(connection, "03_rejected_by_symbol") == []


def test_the_lake_schema_can_be_attached_before_any_load(curated):
    connection = open_warehouse()
    attach_lake(connection, curated)
    assert connection.execute("SELECT count(*) FROM lake.trades").fetchone() == (len(TRADES),)


def test_encode_clauses_are_removed_for_duckdb_as_well():
    duck = redshift_to_duckdb("CREATE TABLE t (a VARCHAR(10) NOT NULL ENCODE zstd, b BIGINT ENCODE az64)"
                              " DISTSTYLE EVEN")
    # sqlglot writes VARCHAR(n) as TEXT(n) for DuckDB, which accepts the length but does not enforce
    # it (a gap: a value too long for Redshift's column loads locally).
    assert duck == "CREATE TABLE t (a TEXT(10) NOT NULL, b BIGINT)"
