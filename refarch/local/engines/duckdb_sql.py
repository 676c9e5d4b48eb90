"""Named SQL files run on DuckDB: one statement per file with a `--` comment line first (the
Athena named queries of sql/athena/, the Redshift queries of sql/redshift/queries/), Athena's
(Trino) SQL transpiled to DuckDB's by sqlglot, and each result kept with its columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refarch.paths import SQL_ROOT

if TYPE_CHECKING:
    import duckdb

ATHENA_QUERIES = SQL_ROOT / "athena"


@dataclass(frozen=True)
class NamedQuery:
    name: str            # the file name without .sql: the Athena named query's name
    description: str     # the file's first comment line
    sql: str             # one statement: Athena (Trino) or Redshift SQL


def load_named_queries(folder: Path = ATHENA_QUERIES) -> tuple[NamedQuery, ...]:
    queries = []
    for path in sorted(folder.glob("*.sql")):
        sql = path.read_text()
        first = sql.lstrip().splitlines()[0] if sql.strip() else ""
        if not first.startswith("--"):
            raise ValueError(f"{path}: the first line must be a `--` comment describing the query")
        queries.append(NamedQuery(path.stem, first[2:].strip(), sql))
    return tuple(queries)


def to_duckdb(sql: str) -> str:
    """One Athena (Trino) statement in DuckDB's dialect; unsupported constructs raise."""
    import sqlglot
    from sqlglot.errors import ErrorLevel

    statements = sqlglot.transpile(sql, read="trino", write="duckdb", unsupported_level=ErrorLevel.RAISE)
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


@dataclass(frozen=True)
class QueryResult:
    name: str
    description: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def preview(self, limit: int = 5) -> list[str]:
        """The first rows as aligned text lines (header first)."""
        cells = [list(self.columns)] + [[_cell(value) for value in row] for row in self.rows[:limit]]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths)).rstrip() for line in cells]
        if len(self.rows) > limit:
            lines.append(f"... {len(self.rows) - limit} more rows")
        return lines


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def run_named_query(connection: duckdb.DuckDBPyConnection, query: NamedQuery) -> QueryResult:
    cursor = connection.execute(to_duckdb(query.sql))
    columns = tuple(column[0] for column in cursor.description)
    return QueryResult(query.name, query.description, columns, tuple(tuple(row) for row in cursor.fetchall()))
