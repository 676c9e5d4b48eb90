"""Redshift's loading statements on DuckDB, on the local disk: the curated folder stands for the
curated bucket (LOCAL_VARIABLES: what the loader's placeholders stand for here).

  CREATE / INSERT / DELETE     transpiled by sqlglot (refarch.local.engines.redshift_sql)
  COPY ... FORMAT AS PARQUET   the local COPY: the files the MANIFEST lists (each must exist with
  MANIFEST                     the content_length it gives), or the objects under an S3 prefix
                               (matched by key prefix as S3 does, files named _* or .* skipped),
                               inserted BY POSITION; a column-count mismatch fails, as Redshift's
                               COPY from Parquet does
  CREATE EXTERNAL SCHEMA       a DuckDB schema with one view per Glue table, with the catalog's
                               declared types (Spectrum)
  CREATE USER / GRANT          not run: DuckDB has no database users or privileges. Reported as
                               "Redshift only" with the reason
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from refarch.local.engines.redshift_sql import (
    REDSHIFT_ONLY,
    copy_parts,
    external_schema_parts,
    parse_redshift,
    redshift_only_reason,
    redshift_to_duckdb,
)
from refarch.local.lake_catalog import LAKE_TABLES

if TYPE_CHECKING:
    import duckdb

# What the loader's placeholders stand for locally; the curated "bucket" is the curated folder.
LOCAL_VARIABLES = {
    "CURATED_BUCKET": "refarch-local-curated",
    "COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-local-redshift-copy",
    "SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-local-redshift-spectrum",
    "LAKE_DATABASE": "refarch_lake",
    "LOAD_MANIFEST": "s3://refarch-local-curated/_quality/trades_etl/local.manifest",
    "LOADER_USER": "refarch_loader",
}


@dataclass(frozen=True)
class StatementRun:
    phase: str            # "setup" (committed on its own) or "load" (in the one load transaction)
    name: str
    how: str              # "duckdb" (transpiled), "local COPY", "local Spectrum schema" or REDSHIFT_ONLY
    rows: int | None      # rows inserted / deleted / copied
    reason: str = ""      # why a REDSHIFT_ONLY statement did not run locally


def open_warehouse() -> duckdb.DuckDBPyConnection:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
