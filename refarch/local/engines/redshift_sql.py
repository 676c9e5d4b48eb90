"""Redshift SQL as sqlglot reads it, and in DuckDB's dialect: one statement parsed (parse errors
raise), transpiled without Redshift's physical-design clauses, the parts of a COPY and of a
CREATE EXTERNAL SCHEMA (which sqlglot keeps as an opaque command), and the statements DuckDB has
no counterpart for (users, privileges), with the reason."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from refarch.local.engines.duckdb_sql import NamedQuery, QueryResult

if TYPE_CHECKING:
    import duckdb
    from sqlglot import exp


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


def run_query(connection: duckdb.DuckDBPyConnection, query: NamedQuery) -> QueryResult:
    cursor = connection.execute(redshift_to_duckdb(query.sql))
    columns = tuple(column[0] for column in cursor.description)
    return QueryResult(query.name, query.description, columns, tuple(tuple(row) for row in cursor.fetchall()))
