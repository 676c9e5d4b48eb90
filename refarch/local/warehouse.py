"""RedshiftWarehouse, run locally: the loader's Redshift SQL and the analytic queries on DuckDB.

`run_warehouse` takes a curated lake (the folder that stands for the curated bucket, holding
`trades/trade_date=.../*.parquet` and `trades_rejected/...` as the Glue job writes them) or,
without one, writes a seeded sample lake of that shape itself (with pyarrow: INT96 timestamps,
trade_date only in the folder names, a `_SUCCESS` marker; no Spark). Then it runs, in file
order, exactly the statements the loader Lambda sends (read and filled in by the Lambda's own
redshift_loader_sql module) on one DuckDB database, in the Lambda's two phases: the setup/
statements one by one (each committed on its own), then the load/ statements in one
transaction (rolled back whole if one fails). Each statement runs as:

  CREATE / INSERT / DELETE     sqlglot transpiles them Redshift -> DuckDB; the physical-design
                               clauses DuckDB has no notion of (DISTSTYLE, DISTKEY, SORTKEY,
                               BACKUP, ENCODE) are removed from the syntax tree first
  COPY ... FORMAT AS PARQUET   the local COPY: the files the MANIFEST lists (each must exist with
  MANIFEST                     the content_length it gives), or the objects under an S3 prefix
                               (matched by key prefix as S3 does, files named _* or .* skipped),
                               s3://<curated bucket>/ mapped onto the curated folder, are inserted
                               BY POSITION, and a column-count mismatch fails, as Redshift's COPY
                               from Parquet does
  CREATE EXTERNAL SCHEMA       sqlglot cannot parse it (it keeps it as an opaque command), so its
                               tokens are matched; the schema becomes a DuckDB schema with one view
                               per Glue table, with the catalog's declared types (Spectrum)
  CREATE USER / GRANT          not run: DuckDB has no database users or privileges. Reported as
                               "Redshift only" with the reason (tests/sql check the grants against
                               what the load statements touch)

It loads twice (the second load must change nothing: the reload is idempotent), then runs the
analytic queries of sql/redshift/queries/. The report checks its own invariants.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from refarch.lambda_code import load_lambda_module
from refarch.local.data_lake import (
    REJECT_REASONS,
    REJECTED_COLUMNS,
    START,
    SYMBOLS,
    TRADES_COLUMNS,
    NamedQuery,
    QueryResult,
    ReportMismatch,
    load_named_queries,
)
from refarch.paths import SQL_ROOT

if TYPE_CHECKING:
    import duckdb
    from sqlglot import exp

WAREHOUSE_SQL = SQL_ROOT / "redshift"
WAREHOUSE_QUERIES = WAREHOUSE_SQL / "queries"

# What the loader's placeholders stand for locally; the curated "bucket" is the curated folder.
LOCAL_VARIABLES = {
    "CURATED_BUCKET": "refarch-local-curated",
    "COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-local-redshift-copy",
    "SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-local-redshift-spectrum",
    "LAKE_DATABASE": "refarch_lake",
    "LOAD_MANIFEST": "s3://refarch-local-curated/_quality/trades_etl/local.manifest",
    "LOADER_USER": "refarch_loader",
}
# The lake's Glue catalog as Spectrum sees it: table -> (prefix in the curated bucket, declared columns).
LAKE_TABLES = {"trades": ("trades/", TRADES_COLUMNS), "trades_rejected": ("trades_rejected/", REJECTED_COLUMNS)}

COPY_SOURCE = "${LOAD_MANIFEST}"   # the manifest of the ETL run being loaded
RECONCILIATION_QUERY, SECTOR_QUERY, REJECTED_QUERY = (
    "02_load_reconciliation", "01_sector_daily_volume", "03_rejected_by_symbol")
DAYS = 3


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


def parse_redshift(sql: str) -> exp.Expression:
    """One Redshift statement as a sqlglot tree; parse errors raise. Statements sqlglot has no
    grammar for (CREATE EXTERNAL SCHEMA) come back as exp.Command."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    statements = [s for s in sqlglot.parse(sql, read="redshift", error_level=ErrorLevel.RAISE) if s is not None]
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


def redshift_to_duckdb(sql: str) -> str:
    """One Redshift statement in DuckDB's dialect, without Redshift's physical-design clauses;
    anything else sqlglot cannot express in DuckDB raises."""
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    tree = parse_redshift(sql)
    if isinstance(tree, exp.Command):
        raise ValueError(f"sqlglot keeps this statement as an opaque command; no DuckDB form: {sql.strip()[:80]}")
    for node in list(tree.find_all(exp.DistStyleProperty, exp.DistKeyProperty, exp.SortKeyProperty,
                                   exp.BackupProperty, exp.EncodeColumnConstraint)):
        parent = node.parent
        node.pop()
        if isinstance(parent, exp.ColumnConstraint):      # ENCODE sits in a ColumnConstraint wrapper
            parent.pop()
    for properties in list(tree.find_all(exp.Properties)):
        if not properties.expressions:
            properties.pop()
    return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)


# --- the COPY and external-schema statements ---------------------------------------------

_EXTERNAL_SCHEMA = re.compile(
    r"^CREATE EXTERNAL SCHEMA (?P<if_not_exists>IF NOT EXISTS )?(?P<schema>[A-Za-z_][A-Za-z0-9_$]*)"
    r" FROM (?P<catalog>DATA CATALOG) DATABASE '(?P<database>[^']*)' IAM_ROLE '(?P<role>[^']*)'$", re.IGNORECASE)


def external_schema_parts(sql: str) -> dict[str, str] | None:
    """The parts of a `CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG DATABASE '..' IAM_ROLE '..'`
    statement (schema, database, role, if_not_exists), or None for any other statement.

    sqlglot parses this statement only as an opaque exp.Command, so the check runs on its
    tokens (comments dropped, string literals re-quoted) with one focused pattern."""
    import sqlglot
    from sqlglot.tokens import TokenType

    tokens = [t for t in sqlglot.tokenize(sql, read="redshift") if t.token_type != TokenType.SEMICOLON]
    text = " ".join("'" + t.text.replace("'", "''") + "'" if t.token_type == TokenType.STRING else t.text
                    for t in tokens)
    match = _EXTERNAL_SCHEMA.match(text)
    if not match:
        return None
    return {"schema": match["schema"].lower(), "database": match["database"], "role": match["role"],
            "if_not_exists": "yes" if match["if_not_exists"] else ""}


def copy_parts(sql: str) -> dict[str, Any] | None:
    """The parts of a COPY statement as sqlglot parses it (exp.Copy): target table, column list,
    sources, IAM role and parameters; None for any other statement."""
    from sqlglot import exp

    tree = parse_redshift(sql)
    if not isinstance(tree, exp.Copy):
        return None
    target = tree.this
    columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else []
    table = target.this if isinstance(target, exp.Schema) else target
    credentials = tree.args.get("credentials")
    role = credentials.args.get("iam_role") if credentials is not None else None
    params = {p.this.name.upper(): (p.expression.name.upper() if p.expression is not None else "")
              for p in tree.args.get("params") or []}
    return {"table": table.sql(dialect="redshift"), "columns": columns,
            "sources": [f.name for f in tree.args.get("files") or []],
            "iam_role": role.name if isinstance(role, exp.Literal) else None,
            "from": bool(tree.args.get("kind")), "params": params}


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
    externals = [text for text in files.values() if external_schema_parts(text) is not None]
    copies = [text for text in files.values() if text not in externals and copy_parts(text) is not None]
    checks = {"one_copy_statement": len(copies) == 1, "one_external_schema_statement": len(externals) == 1}
    checks.update(copy_checks(copies[0]) if copies else {key: False for key in copy_checks("SELECT 1")})
    checks.update(external_schema_checks(externals[0]) if externals
                  else {key: False for key in external_schema_checks("SELECT 1")})
    return checks


# --- running the statements on DuckDB -----------------------------------------------------

@dataclass(frozen=True)
class StatementRun:
    phase: str            # "setup" (committed on its own) or "load" (in the one load transaction)
    name: str
    how: str              # "duckdb" (transpiled), "local COPY", "local Spectrum schema" or REDSHIFT_ONLY
    rows: int | None      # rows inserted / deleted / copied
    reason: str = ""      # why a REDSHIFT_ONLY statement did not run locally


REDSHIFT_ONLY = "Redshift only"
# Leading keywords of the statements DuckDB has no counterpart for -> why they do not run locally.
_REDSHIFT_ONLY = {
    ("CREATE", "USER"): "DuckDB has no database users (the setup creates the loader's user in Redshift)",
    ("ALTER", "USER"): "DuckDB has no database users",
    ("GRANT",): "DuckDB has no privileges (Redshift enforces the loader user's grants)",
    ("REVOKE",): "DuckDB has no privileges",
}


def redshift_only_reason(sql: str) -> str | None:
    """Why `sql` cannot run on DuckDB at all (users, privileges), or None when it can."""
    import sqlglot

    words = tuple(t.text.upper() for t in sqlglot.tokenize(sql, read="redshift")[:2])
    return next((reason for lead, reason in _REDSHIFT_ONLY.items() if words[:len(lead)] == lead), None)


def open_warehouse() -> duckdb.DuckDBPyConnection:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


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


def run_statement(connection: duckdb.DuckDBPyConnection, name: str, sql: str, curated: Path,
                  variables: dict[str, str] = LOCAL_VARIABLES, *, phase: str = "") -> StatementRun:
    """Run one loader statement (placeholders already filled in) the local way."""
    from sqlglot import exp

    reason = redshift_only_reason(sql)
    if reason is not None:
        return StatementRun(phase, name, REDSHIFT_ONLY, None, reason)
    external = external_schema_parts(sql)
    if external is not None:
        attach_lake(connection, curated, schema=external["schema"])
        return StatementRun(phase, name, "local Spectrum schema", None)
    tree = parse_redshift(sql)
    if isinstance(tree, exp.Copy):
        return StatementRun(phase, name, "local COPY", local_copy(connection, sql, curated, variables))
    cursor = connection.execute(redshift_to_duckdb(sql))
    rows = cursor.fetchone()[0] if isinstance(tree, (exp.Insert, exp.Delete)) else None
    return StatementRun(phase, name, "duckdb", rows)


def local_copy(connection: duckdb.DuckDBPyConnection, sql: str, curated: Path, variables: dict[str, str]) -> int:
    """COPY <table> FROM 's3://<bucket>/<prefix>' ... FORMAT AS PARQUET, on the curated folder:
    positional, every column of the files into the table's (or the listed) columns. Returns rows."""
    import pyarrow.parquet as pq

    parts = copy_parts(sql)
    if parts["params"].get("FORMAT") != "PARQUET":
        raise ValueError(f"the local COPY reads Parquet only, not {parts['params'].get('FORMAT') or 'text'}")
    bucket = f"s3://{variables['CURATED_BUCKET']}/"
    [source] = parts["sources"]
    if "MANIFEST" in parts["params"]:
        files = manifest_files(local_path(source, curated, bucket), curated, bucket)
    elif source.startswith(bucket):
        files = lake_objects(curated, source[len(bucket):])
    else:
        raise ValueError(f"COPY source {source} is not in the curated bucket {bucket}")
    if not files:
        raise ValueError(f"COPY found no files under {source} ({curated})")   # Redshift: "no files found"
    table = parts["table"]
    table_columns = parts["columns"] or [row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()]
    for path in files:                     # Redshift checks every file, not only the first
        file_columns = pq.read_schema(path).names
        if len(file_columns) != len(table_columns):
            raise ValueError(f"COPY from Parquet maps columns by position: {path.relative_to(curated)} has"
                             f" {len(file_columns)} columns ({', '.join(file_columns)}), {table} takes"
                             f" {len(table_columns)}")
    listing = "[" + ", ".join(_literal(str(path)) for path in files) + "]"
    reader = f"read_parquet({listing}, hive_partitioning = false)"
    target = f"{table} ({', '.join(table_columns)})"
    return connection.execute(f"INSERT INTO {target} SELECT * FROM {reader}").fetchone()[0]


def local_path(url: str, curated: Path, bucket: str) -> Path:
    """s3://<curated bucket>/key -> that key under the curated folder; file:// URLs as they are."""
    if url.startswith(bucket):
        return Path(curated) / url[len(bucket):]
    if url.startswith("file:"):
        import urllib.parse

        return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    raise ValueError(f"{url} is neither in the curated bucket {bucket} nor a local file")


def manifest_files(manifest: Path, curated: Path, bucket: str) -> list[Path]:
    """The files a COPY manifest lists; as Redshift, a mandatory one that is missing, or whose
    size is not its content_length, fails the COPY."""
    if not manifest.is_file():
        raise ValueError(f"COPY manifest {manifest} does not exist")
    files = []
    for entry in json.loads(manifest.read_text())["entries"]:
        path = local_path(entry["url"], curated, bucket)
        if not path.is_file():
            if entry.get("mandatory"):
                raise ValueError(f"COPY manifest {manifest.name}: mandatory file {entry['url']} is missing")
            continue
        if path.stat().st_size != entry["meta"]["content_length"]:
            raise ValueError(f"COPY manifest {manifest.name}: {entry['url']} has {path.stat().st_size} bytes,"
                             f" the manifest says {entry['meta']['content_length']}")
        files.append(path)
    return files


def write_full_manifest(curated: Path, variables: dict[str, str] = LOCAL_VARIABLES) -> Path:
    """A manifest of every curated trades file, at LOAD_MANIFEST: what a first, full ETL run writes."""
    bucket = f"s3://{variables['CURATED_BUCKET']}/"
    target = local_path(variables["LOAD_MANIFEST"], curated, bucket)
    entries = [{"url": bucket + path.relative_to(curated).as_posix(), "mandatory": True,
                "meta": {"content_length": path.stat().st_size}}
               for path in lake_objects(curated, "trades/") if path.suffix == ".parquet"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"entries": entries}, indent=1) + "\n")
    return target


def lake_objects(curated: Path, prefix: str) -> list[Path]:
    """The files whose key (path under `curated`) starts with `prefix`, as S3 lists a prefix;
    files named _* or .* (Spark's _SUCCESS, checksum files) are skipped."""
    curated = Path(curated)
    return [path for path in sorted(curated.rglob("*"))
            if path.is_file() and path.relative_to(curated).as_posix().startswith(prefix)
            and not path.name.startswith(("_", "."))]


def attach_lake(connection: duckdb.DuckDBPyConnection, curated: Path, *, schema: str = "lake") -> None:
    """The external schema: one view per Glue table over its Parquet, with the catalog's types
    (trade_date from the folder names, a string; Spark's null partition reads as NULL)."""
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table, (prefix, columns) in LAKE_TABLES.items():
        select = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns.items())
        files = [path for path in lake_objects(curated, prefix) if path.suffix == ".parquet"]
        if files:
            listing = "[" + ", ".join(_literal(str(path)) for path in files) + "]"
            source = (f"read_parquet({listing}, hive_partitioning = true,"
                      f" hive_types = {{'trade_date': 'VARCHAR'}}, union_by_name = true)")
        else:
            source = "(SELECT " + ", ".join(f"NULL AS {name}" for name in columns) + " WHERE false)"
        connection.execute(f"CREATE OR REPLACE VIEW {schema}.{table} AS SELECT {select} FROM {source}")


def run_query(connection: duckdb.DuckDBPyConnection, query: NamedQuery) -> QueryResult:
    cursor = connection.execute(redshift_to_duckdb(query.sql))
    columns = tuple(column[0] for column in cursor.description)
    return QueryResult(query.name, query.description, columns, tuple(tuple(row) for row in cursor.fetchall()))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- a sample curated lake ------------------------------------------------------------------

@dataclass(frozen=True)
class SampleLake:
    """What write_sample_lake put on disk: the truth a run is compared with."""
    root: Path
    trades: int
    volume: int
    notional: Decimal
    trade_dates: tuple[str, ...]
    rejected: int
    rejected_by_reason: dict[str, int]


def write_sample_lake(root: Path, rows: int = 500, *, seed: int = 13) -> SampleLake:
    """A curated lake shaped like the Glue job's output, under `root` (the curated bucket):
    `rows` trades over DAYS UTC dates in trades/trade_date=.../ (six columns, INT96 trade_ts,
    decimal(18,4) price) and rejected rows in trades_rejected/ (all strings, with a reason;
    no usable timestamp -> Spark's null partition). Seeded: the same seed writes the same lake."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not 1 <= rows <= 1_000_000:
        raise ValueError(f"rows={rows}: allowed 1 to 1000000")
    rng = random.Random(seed)
    root = Path(root)
    for owned in ("trades", "trades_rejected"):
        shutil.rmtree(root / owned, ignore_errors=True)

    by_date: dict[str, list[tuple]] = {}
    volume, notional = 0, Decimal(0)
    for serial in range(1, rows + 1):
        symbol = rng.choice(sorted(SYMBOLS))
        price = (Decimal(SYMBOLS[symbol]) * Decimal(str(round(rng.uniform(0.95, 1.05), 4)))).quantize(Decimal("0.0001"))
        quantity = rng.randint(1, 1_000)
        ts = START.replace(tzinfo=None) + timedelta(seconds=rng.randrange(DAYS * 86_400),
                                                    milliseconds=rng.choice((0, 0, 0, rng.randrange(1000))))
        by_date.setdefault(ts.strftime("%Y-%m-%d"), []).append(
            (f"W{seed:03d}{serial:07d}", symbol, rng.choice(("BUY", "SELL")), quantity, price, ts))
        volume += quantity
        notional += price * quantity
    schema = pa.schema([("trade_id", pa.string()), ("symbol", pa.string()), ("side", pa.string()),
                        ("quantity", pa.int64()), ("price", pa.decimal128(18, 4)), ("trade_ts", pa.timestamp("us"))])
    for day, trades in sorted(by_date.items()):
        trades.sort(key=lambda t: (t[1], t[5], t[0]))             # the job sorts by symbol, trade_ts, trade_id
        folder = root / "trades" / f"trade_date={day}"
        folder.mkdir(parents=True)
        table = pa.Table.from_pylist([dict(zip(schema.names, t)) for t in trades], schema=schema)
        pq.write_table(table, folder / f"part-00000-seed{seed}.c000.snappy.parquet",
                       compression="snappy", use_deprecated_int96_timestamps=True)   # as Spark writes timestamps
    (root / "trades" / "_SUCCESS").write_bytes(b"")

    rejected_rows: dict[str | None, list[dict]] = {}
    reasons: dict[str, int] = {}
    count = max(len(REJECT_REASONS), rows // 40)
    days = sorted(by_date)
    for serial in range(1, count + 1):
        reason = REJECT_REASONS[(serial - 1) % len(REJECT_REASONS)]
        symbol = rng.choice(sorted(SYMBOLS))
        row = {"trade_id": f"R{seed:03d}{serial:06d}", "symbol": rng.choice((symbol, f" {symbol.lower()} ")),
               "side": "BUY", "quantity": "10", "price": "100.00",
               "trade_ts": f"{rng.choice(days)}T12:00:00Z", "malformed_record": None, "reason": reason}
        if reason == "bad_symbol":
            row["symbol"] = rng.choice(("BRK/B", "TOOLONGSYMB", ""))
        elif reason == "missing_trade_id":
            row["trade_id"] = ""
        elif reason == "malformed_row":
            row.update({name: None for name in ("trade_id", "symbol", "side", "quantity", "price", "trade_ts")},
                       malformed_record="garbage,line")
        elif reason == "bad_timestamp":
            row["trade_ts"] = "yesterday"
        day = row["trade_ts"][:10] if row["trade_ts"] and row["trade_ts"][:4].isdigit() else None
        rejected_rows.setdefault(day, []).append(row)
        reasons[reason] = reasons.get(reason, 0) + 1
    string_schema = pa.schema([(name, pa.string()) for name in ("trade_id", "symbol", "side", "quantity", "price",
                                                                 "trade_ts", "malformed_record", "reason")])
    for day, items in rejected_rows.items():
        folder = root / "trades_rejected" / f"trade_date={day or '__HIVE_DEFAULT_PARTITION__'}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(items, schema=string_schema),
                       folder / f"part-00000-seed{seed}.c000.snappy.parquet")
    (root / "trades_rejected" / "_SUCCESS").write_bytes(b"")

    return SampleLake(root=root, trades=rows, volume=volume, notional=notional, trade_dates=tuple(days),
                      rejected=count, rejected_by_reason=dict(sorted(reasons.items())))


# --- the report -------------------------------------------------------------------------------

class WarehouseReportMismatch(ReportMismatch):
    """The warehouse run's counts do not add up: a row was lost, duplicated or not reconciled."""


@dataclass(frozen=True)
class WarehouseRunReport:
    lake_rows: int                       # curated trade rows DuckDB reads from the Parquet
    lake_rejected_rows: int              # rows in the lake's trades_rejected
    copied_rows: int                     # rows the (local) COPY put into staging
    loaded_rows: int                     # rows in analytics.trades after the first load
    reloaded_rows: int                   # ... after running every statement again
    symbols: int                         # rows in analytics.symbols after the loads
    trade_dates: tuple[str, ...]         # the dates in analytics.trades
    statements: tuple[StatementRun, ...]  # the first load, in run order
    checks: dict[str, bool]              # the COPY and external-schema statements, as written
    queries: tuple[QueryResult, ...]
    paths: dict[str, str] = field(compare=False)
    sample: SampleLake | None = field(default=None, compare=False)   # set when the run wrote the lake

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise WarehouseReportMismatch("RedshiftWarehouse run does not add up: " + "; ".join(problems))

    def query(self, name: str) -> QueryResult:
        for result in self.queries:
            if result.name == name:
                return result
        raise KeyError(f"no query {name!r} in this run (have: {', '.join(q.name for q in self.queries)})")

    def problems(self) -> list[str]:
        found = []
        if self.copied_rows != self.lake_rows:
            found.append(f"COPY loaded {self.copied_rows} rows into staging, the lake holds {self.lake_rows}")
        if self.loaded_rows != self.lake_rows:
            found.append(f"analytics.trades holds {self.loaded_rows} rows after the load, the lake {self.lake_rows}")
        if self.reloaded_rows != self.loaded_rows:
            found.append(f"reloading changed analytics.trades from {self.loaded_rows} to {self.reloaded_rows} rows"
                         " (the reload is not idempotent)")
        failed = sorted(name for name, ok in self.checks.items() if not ok)
        if failed:
            found.append("statement checks failed: " + ", ".join(failed))
        names = {result.name for result in self.queries}
        if RECONCILIATION_QUERY in names:
            days = self.query(RECONCILIATION_QUERY).records()
            gaps = [f"{row['trade_date']} {row['status']}" for row in days if row["status"] != "ok"]
            if gaps:
                found.append(f"{RECONCILIATION_QUERY} reports gaps: {', '.join(gaps)}")
            if tuple(str(row["trade_date"]) for row in days) != self.trade_dates:
                found.append(f"{RECONCILIATION_QUERY} covers {[str(r['trade_date']) for r in days]},"
                             f" analytics.trades {list(self.trade_dates)}")
            if sum(row["warehouse_rows"] for row in days) != self.loaded_rows:
                found.append(f"{RECONCILIATION_QUERY} counts {sum(r['warehouse_rows'] for r in days)} warehouse rows,"
                             f" analytics.trades holds {self.loaded_rows}")
        if SECTOR_QUERY in names:
            counted = sum(row["trade_count"] for row in self.query(SECTOR_QUERY).records())
            if counted != self.lake_rows:
                found.append(f"{SECTOR_QUERY} counts {counted} trades, the lake holds {self.lake_rows}")
        if REJECTED_QUERY in names:
            counted = sum(row["rejected_rows"] for row in self.query(REJECTED_QUERY).records())
            if counted != self.lake_rejected_rows:
                found.append(f"{REJECTED_QUERY} counts {counted} rejected rows,"
                             f" the lake holds {self.lake_rejected_rows}")
        if self.sample is not None:
            for label, actual, wanted in (("lake rows", self.lake_rows, self.sample.trades),
                                          ("rejected rows", self.lake_rejected_rows, self.sample.rejected),
                                          ("trade dates", self.trade_dates, self.sample.trade_dates)):
                if actual != wanted:
                    found.append(f"{label} {actual} != written {wanted}")
            if SECTOR_QUERY in names:
                rows = self.query(SECTOR_QUERY).records()
                if sum(r["volume"] for r in rows) != self.sample.volume:
                    found.append(f"{SECTOR_QUERY} sums volume {sum(r['volume'] for r in rows)},"
                                 f" written {self.sample.volume}")
                if sum(r["notional"] for r in rows) != self.sample.notional:
                    found.append(f"{SECTOR_QUERY} sums notional {sum(r['notional'] for r in rows)},"
                                 f" written {self.sample.notional}")
        return found

    def rows(self) -> list[tuple[str, str]]:
        checks = sum(self.checks.values())
        return [
            ("curated lake", f"{self.lake_rows} trades in {len(self.trade_dates)} trade dates"
                             f" ({', '.join(self.trade_dates)}), {self.lake_rejected_rows} rejected rows"),
            ("loader statements", f"{len(self.statements)}: setup one by one ("
                                  + ", ".join(s.name for s in self.statements if s.phase == "setup")
                                  + "), then load as one transaction ("
                                  + ", ".join(s.name for s in self.statements if s.phase == "load") + ")"),
            *((f"{REDSHIFT_ONLY}: {s.name}", s.reason) for s in self.statements if s.how == REDSHIFT_ONLY),
            ("COPY into staging", f"{self.copied_rows} rows"),
            ("analytics.trades", f"{self.loaded_rows} rows after the load, {self.reloaded_rows} after a re-run"),
            ("analytics.symbols", f"{self.symbols} rows"),
            ("statement checks", f"{checks}/{len(self.checks)} passed (COPY source, role, format; external schema)"),
            ("analytic queries", ", ".join(f"{q.name} ({len(q.rows)} rows)" for q in self.queries)),
            ("lake", self.paths.get("curated", "")),
        ]

    def summary_lines(self) -> list[str]:
        width = max(len(label) for label, _ in self.rows())
        return [f"{label:<{width}}  {value}" for label, value in self.rows()]

    summary = summary_lines


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
