"""The loader's database user gets exactly the privileges its load statements need: derived here
from sql/redshift/load/*.sql with sqlglot (which tables each statement writes and reads, which IAM
role its COPY names) and compared with the GRANTs of sql/redshift/setup/*.sql. A load statement
that touches a new table, or a grant nothing uses, fails the comparison."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from refarch.paths import SQL_ROOT
from tests.lambda_loader import load

loader_sql = load("redshift_loader", "redshift_loader_sql")

FOLDER = SQL_ROOT / "redshift"
LOADER = "refarch_loader"
VARIABLES = {"LOADER_USER": LOADER, "COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/copy",
             "SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/spectrum", "LAKE_DATABASE": "lake_db",
             "CURATED_BUCKET": "curated", "LOAD_MANIFEST": "s3://curated/_quality/job/jr_1.manifest"}
ASSUMEROLE = re.compile(r"^GRANT ASSUMEROLE ON '(?P<role>[^']+)' TO \"?(?P<user>[a-z_][a-z0-9_$]*)\"? FOR (?P<what>.+)$",
                        re.IGNORECASE)


def tree(sql: str) -> exp.Expression:
    [statement] = [s for s in sqlglot.parse(sql, read="redshift", error_level=ErrorLevel.RAISE) if s is not None]
    return statement


def _name(table: exp.Table) -> str:
    return f"{table.db}.{table.name}" if table.db else table.name


def needed(statements) -> tuple[dict[str, set[str]], set[str]]:
    """(table -> privileges, IAM roles for COPY) that `statements` need, by what each one does:
    DELETE needs DELETE and, in Redshift, SELECT on its table; INSERT and COPY need INSERT; every
    other table a statement mentions (a subquery, an INSERT's SELECT) is read: SELECT."""
    tables: dict[str, set[str]] = defaultdict(set)
    roles: set[str] = set()
    for statement in statements:
        node = tree(statement.sql)
        if isinstance(node, exp.Delete):
            target, privileges = node.this, {"DELETE", "SELECT"}
        elif isinstance(node, (exp.Insert, exp.Copy)):
            target = node.this.this if isinstance(node.this, exp.Schema) else node.this
            privileges = {"INSERT"}
            if isinstance(node, exp.Copy):
                roles.add(node.args["credentials"].args["iam_role"].name)
        else:
            raise AssertionError(f"{statement.name}: a {type(node).__name__} statement: say here what it needs")
        tables[_name(target)] |= privileges
        for table in node.find_all(exp.Table):
            if table is not target:
                tables[_name(table)].add("SELECT")
    return dict(tables), roles


def granted(statements, user: str) -> tuple[dict[str, set[str]], set[str], set[str]]:
    """(table -> privileges, schemas with USAGE, IAM roles for COPY) the setup grants `user`;
    any grant to someone else, with GRANT OPTION, or of another kind fails."""
    tables: dict[str, set[str]] = defaultdict(set)
    schemas: set[str] = set()
    roles: set[str] = set()
    for statement in statements:
        node = tree(statement.sql)
        if isinstance(node, exp.Grant):
            principals = [p.this.name for p in node.args["principals"]]
            assert principals == [user] and not node.args.get("grant_option"), statement.name
            privileges = {p.this.name.upper() for p in node.args["privileges"]}
            kind = (node.args.get("kind") or "TABLE").upper()
            if kind == "SCHEMA":
                assert privileges == {"USAGE"}, f"{statement.name}: {privileges} on a schema (no CREATE: no DDL)"
                schemas.add(node.args["securable"].name)
            else:
                assert kind == "TABLE", f"{statement.name}: GRANT ON {kind}"
                tables[_name(node.args["securable"])] |= privileges
        elif isinstance(node, exp.Command) and node.this.upper() == "GRANT":
            match = ASSUMEROLE.match(node.sql(dialect="redshift", comments=False))
            assert match and match["user"] == user, f"{statement.name}: an unexpected GRANT"
            assert match["what"].upper() == "COPY", f"{statement.name}: ASSUMEROLE FOR {match['what']}, not only COPY"
            roles.add(match["role"])
    return dict(tables), schemas, roles


@pytest.fixture(scope="module")
def load_statements():
    return loader_sql.load_statements(FOLDER, VARIABLES, phases=(loader_sql.LOAD,))


@pytest.fixture(scope="module")
def setup_statements():
    return loader_sql.load_statements(FOLDER, VARIABLES, phases=(loader_sql.SETUP,))


def test_the_table_grants_are_exactly_what_the_load_statements_do(load_statements, setup_statements):
    tables, _ = needed(load_statements)
    grants, _, _ = granted(setup_statements, LOADER)
    assert grants == tables
    assert tables == {   # the derivation itself, stated: what a change to the load SQL would move
        "analytics.symbols": {"DELETE", "SELECT", "INSERT"},
        "analytics.trades": {"DELETE", "SELECT", "INSERT"},
        "analytics.trades_staging": {"DELETE", "SELECT", "INSERT"}}


def test_the_schema_usage_is_exactly_the_schemas_of_those_tables(load_statements, setup_statements):
    tables, _ = needed(load_statements)
    _, schemas, _ = granted(setup_statements, LOADER)
    assert schemas == {name.split(".")[0] for name in tables} == {"analytics"}


def test_the_loader_may_assume_only_the_role_its_copy_names_and_only_for_copy(load_statements, setup_statements):
    _, roles = needed(load_statements)
    _, _, assumable = granted(setup_statements, LOADER)
    assert assumable == roles == {VARIABLES["COPY_ROLE_ARN"]}


def test_the_derivation_reads_a_delete_s_subquery_as_a_read():
    statement = loader_sql.Statement("load", "30_x", "DELETE FROM a.t WHERE d IN (SELECT d FROM a.s)")
    assert needed([statement]) == ({"a.t": {"DELETE", "SELECT"}, "a.s": {"SELECT"}}, set())


def test_the_derivation_reads_an_insert_select_as_insert_on_the_target_and_select_on_the_source():
    statement = loader_sql.Statement("load", "30_x", "INSERT INTO a.t (x) SELECT x FROM a.s")
    assert needed([statement]) == ({"a.t": {"INSERT"}, "a.s": {"SELECT"}}, set())


def test_a_load_statement_the_derivation_does_not_know_fails_it():
    statement = loader_sql.Statement("load", "30_x", "UPDATE a.t SET x = 1")
    with pytest.raises(AssertionError, match="30_x: a Update statement"):
        needed([statement])


def test_a_grant_the_load_does_not_use_fails_the_comparison(load_statements, setup_statements):
    extra = loader_sql.Statement("setup", "13_x", f'GRANT SELECT ON TABLE lake.trades TO "{LOADER}"')
    grants, _, _ = granted([*setup_statements, extra], LOADER)
    assert grants != needed(load_statements)[0]


def test_a_grant_to_anyone_else_is_refused():
    with pytest.raises(AssertionError, match="13_x"):
        granted([loader_sql.Statement("setup", "13_x", "GRANT SELECT ON TABLE analytics.trades TO PUBLIC")], LOADER)
