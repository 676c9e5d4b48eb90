"""RedshiftWarehouse, run locally: the loader's Redshift SQL and the analytic queries on DuckDB.

`run_warehouse` takes a curated lake (the folder that stands for the curated bucket, holding
`trades/trade_date=.../*.parquet` and `trades_rejected/...` as the Glue job writes them) or,
without one, writes a seeded sample lake of that shape itself (generators/curated_lake, no Spark).
Then it runs, in file order, exactly the statements the loader Lambda sends (read and filled in by the Lambda's own
redshift_loader_sql module) on one DuckDB database, in the Lambda's two phases: the setup/
statements one by one (each committed on its own), then the load/ statements in one
transaction (rolled back whole if one fails). Each statement runs the local way
(refarch.local.engines.redshift_local): transpiled by sqlglot, the local COPY from the curated
folder, the Spectrum schema as DuckDB views, users and grants reported as Redshift only.

It loads twice (the second load must change nothing: the reload is idempotent), then runs the
analytic queries of sql/redshift/queries/. The report checks its own invariants.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from refarch.lambda_code import load_lambda_module
from refarch.local.engines.duckdb_sql import NamedQuery, load_named_queries
from refarch.local.engines.redshift_local import (
    LOCAL_VARIABLES,
    StatementRun,
    open_warehouse,
    run_statement,
    write_full_manifest,
)
from refarch.local.engines.redshift_sql import copy_parts, external_schema_parts, redshift_only_reason, run_query
from refarch.local.generators.curated_lake import write_sample_lake
from refarch.local.reports.warehouse import WarehouseRunReport
from refarch.paths import SQL_ROOT

if TYPE_CHECKING:
    import duckdb

WAREHOUSE_SQL = SQL_ROOT / "redshift"
WAREHOUSE_QUERIES = WAREHOUSE_SQL / "queries"
COPY_SOURCE = "${LOAD_MANIFEST}"   # the manifest of the ETL run being loaded


# --- the statements ------------------------------------------------------------------------

def loader_sql() -> ModuleType:
    """lambda/redshift_loader/redshift_loader_sql.py: what the Lambda uses to read its SQL."""
    return load_lambda_module("redshift_loader", "redshift_loader_sql")


def loader_statements(variables: dict[str, str] | None = None, folder: Path = WAREHOUSE_SQL) -> list[Any]:
    """The loader's statements (redshift_loader_sql.Statement: phase, name, sql), in run order,
    placeholders filled in (locally: LOCAL_VARIABLES)."""
    return loader_sql().load_statements(folder, LOCAL_VARIABLES if variables is None else variables)


def loader_sql_text(name: str, variables: dict[str, str] | None = None) -> str:
    """The SQL of one loader statement, by name, as the Lambda would send it."""
    return next(statement.sql for statement in loader_statements(variables) if statement.name == name)


def statement_files(folder: Path = WAREHOUSE_SQL) -> dict[str, str]:
    """name -> raw text (placeholders not filled in) of the loader's files, both phases."""
    return {path.stem: path.read_text() for _, path in loader_sql().sql_files(folder)}


def warehouse_queries(folder: Path = WAREHOUSE_QUERIES) -> tuple[NamedQuery, ...]:
    return load_named_queries(folder)


def copy_checks(sql: str) -> dict[str, bool]:
    """The loader's COPY reads the manifest placeholder (one ETL run's files) as a MANIFEST, with
    the COPY role placeholder, as Parquet (checked on the file's own text, before substitution)."""
    parts = copy_parts(sql) or {}
    sources = parts.get("sources", [])
    return {
        "copy_is_a_copy_from": bool(parts) and parts["from"],
        "copy_into_staging": parts.get("table") == "analytics.trades_staging",
        "copy_manifest_placeholder": sources == [COPY_SOURCE],
        "copy_reads_a_manifest": "MANIFEST" in parts.get("params", {}),
        "copy_role_placeholder": parts.get("iam_role") == "${COPY_ROLE_ARN}",
        "copy_format_parquet": parts.get("params", {}).get("FORMAT") == "PARQUET",
    }


def external_schema_checks(sql: str) -> dict[str, bool]:
    parts = external_schema_parts(sql) or {}
    return {
        "external_schema_from_data_catalog": bool(parts),
        "external_schema_is_lake": parts.get("schema") == "lake",
        "external_schema_if_not_exists": bool(parts.get("if_not_exists")),
        "external_schema_database_placeholder": parts.get("database") == "${LAKE_DATABASE}",
        "external_schema_role_placeholder": parts.get("role") == "${SPECTRUM_ROLE_ARN}",
    }


def statement_checks(files: dict[str, str] | None = None) -> dict[str, bool]:
    """copy_checks of the one COPY file and external_schema_checks of the one external-schema file."""
    files = statement_files() if files is None else files
    # Users and grants are neither (and sqlglot has no grammar for some: it would warn on each).
    files = {name: text for name, text in files.items() if redshift_only_reason(text) is None}
    externals = [text for text in files.values() if external_schema_parts(text) is not None]
    copies = [text for text in files.values() if text not in externals and copy_parts(text) is not None]
    checks = {"one_copy_statement": len(copies) == 1, "one_external_schema_statement": len(externals) == 1}
    checks.update(copy_checks(copies[0]) if copies else {key: False for key in copy_checks("SELECT 1")})
    checks.update(external_schema_checks(externals[0]) if externals
                  else {key: False for key in external_schema_checks("SELECT 1")})
    return checks


# --- the loader's two phases, on DuckDB ---------------------------------------------------

def replay(connection: duckdb.DuckDBPyConnection, statements: Sequence[Any], curated: Path,
           variables: dict[str, str] = LOCAL_VARIABLES) -> tuple[StatementRun, ...]:
    """Run loader statements (in run order) as the Lambda does: the setup ones one by one, each
    committed on its own, then the load ones in ONE transaction, rolled back whole if any fails."""
    module = loader_sql()
    runs = [run_statement(connection, s.name, s.sql, curated, variables, phase=s.phase)
            for s in module.phase_statements(statements, module.SETUP)]
    load = module.phase_statements(statements, module.LOAD)
    if load:
        connection.execute("BEGIN TRANSACTION")
        try:
            runs += [run_statement(connection, s.name, s.sql, curated, variables, phase=s.phase) for s in load]
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return tuple(runs)


def load_run(connection: duckdb.DuckDBPyConnection, manifest: Path, curated: Path) -> tuple[StatementRun, ...]:
    """What the loader does for one ETL run, locally: the setup statements, then, if the run's
    manifest lists files, the load batch copying exactly those (as the Lambda: nothing to copy
    leaves the warehouse as it is)."""
    variables = {**LOCAL_VARIABLES, "LOAD_MANIFEST": Path(manifest).resolve().as_uri()}
    statements = loader_statements(variables)
    if not json.loads(Path(manifest).read_text())["entries"]:
        statements = [s for s in statements if s.phase != loader_sql().LOAD]
    return replay(connection, statements, curated, variables)


# --- the run ------------------------------------------------------------------------------------

def run_warehouse(*, curated: Path | None = None, rows: int = 500, seed: int = 13) -> WarehouseRunReport:
    """Load the curated lake (default: a seeded sample of `rows` trades, written to a new temporary
    folder) with the loader's statements on DuckDB, twice, and run the analytic queries."""
    sample = None
    if curated is None:
        curated = Path(tempfile.mkdtemp(prefix="refarch-warehouse-")) / "curated"
        sample = write_sample_lake(curated, rows, seed=seed)
    curated = Path(curated)
    if not (curated / "trades").is_dir():
        raise FileNotFoundError(f"{curated} has no trades/ folder: pass the curated bucket's folder (holding"
                                " trades/ and trades_rejected/), e.g. Path(run_data_lake().paths['root']) / 'curated'")

    write_full_manifest(curated)   # the load copies what one full ETL run wrote: every curated file
    statements = loader_statements()
    connection = open_warehouse()
    try:
        first = replay(connection, statements, curated)
        loaded = _count(connection, "analytics.trades")
        replay(connection, statements, curated)   # a re-run: the reload must replace, not add
        reloaded = _count(connection, "analytics.trades")
        copied = next((run.rows for run in first if run.how == "local COPY"), 0) or 0
        lake_rows = _count(connection, "lake.trades")
        lake_rejected = _count(connection, "lake.trades_rejected")
        symbols = _count(connection, "analytics.symbols")
        dates = tuple(str(day) for (day,) in connection.execute(
            "SELECT DISTINCT trade_date FROM analytics.trades ORDER BY 1").fetchall())
        results = tuple(run_query(connection, query) for query in warehouse_queries())
    finally:
        connection.close()
    return WarehouseRunReport(
        lake_rows=lake_rows, lake_rejected_rows=lake_rejected, copied_rows=copied, loaded_rows=loaded,
        reloaded_rows=reloaded, symbols=symbols, trade_dates=dates, statements=first,
        checks=statement_checks(), queries=results,
        paths={"curated": str(curated), "sql": str(WAREHOUSE_SQL)}, sample=sample)


def _count(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
