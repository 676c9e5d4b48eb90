"""The Redshift loader Lambda: which SQL it sends to the Data API, in what order and with what
connection parameters (asserted with botocore's Stubber: an unexpected or missing call fails
the test): only the load statements, as one BatchExecuteStatement, as the loader's own database
user (the setup statements are the setup function's: test_redshift_setup.py); how it waits,
and how failures, timeouts and bad configuration surface. Also how the SQL files are read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from refarch.paths import SQL_ROOT
from tests.lambda_functions.redshift_data_api import (
    BATCH_ID,
    Connection,
    FakeContext,
    FakeTime,
    finished,
    sub,
)
from tests.lambda_functions import redshift_data_api as stubs
from tests.lambda_loader import load

loader = load("redshift_loader", "redshift_loader")
loader_sql = load("redshift_loader", "redshift_loader_sql")
loader_run = load("redshift_loader", "redshift_loader_run")
loader_manifest = load("redshift_loader", "redshift_loader_manifest")

SQL_FOLDER = SQL_ROOT / "redshift"
ENV = {   # the loader function's environment, as the stack sets it
    "CLUSTER_ID": "refarch-warehouse",
    "DATABASE": "analytics",
    "DB_USER": "refarch_loader",
    "CURATED_BUCKET": "refarch-curated-123456789012",
    "COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-lake-reader",
    "LOAD_MANIFEST_PREFIX": "_quality/refarch-dev-BatchDataLake-CurateTrades/",
}
CONN = Connection(ENV["CLUSTER_ID"], ENV["DATABASE"], ENV["DB_USER"], "refarch-redshift-loader")
# The manifest of the ETL run a load copies (by default: two files of one trade date).
MANIFEST_URL = "s3://refarch-curated-123456789012/_quality/refarch-dev-BatchDataLake-CurateTrades/jr_1.manifest"
MANIFEST = loader_manifest.LoadManifest(MANIFEST_URL, 2, ("2024-05-02",))
# Every placeholder of both phases (the setup ones come from the setup custom resource's properties).
VARIABLES = {**ENV, "LOAD_MANIFEST": MANIFEST_URL, "LOADER_USER": "refarch_loader",
             "SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-spectrum", "LAKE_DATABASE": "refarch_lake"}
SETUP_NAMES = sorted(path.stem for path in (SQL_FOLDER / "setup").glob("*.sql"))
LOAD_NAMES = sorted(path.stem for path in (SQL_FOLDER / "load").glob("*.sql"))
FILE_NAMES = SETUP_NAMES + LOAD_NAMES


def expected_sql(name: str) -> str:
    """What must be sent for a file, derived independently of the loader: the file's text with
    the placeholders replaced, up to (without) its final semicolon."""
    phase = "setup" if name in SETUP_NAMES else "load"
    text = (SQL_FOLDER / phase / f"{name}.sql").read_text()
    for variable, value in VARIABLES.items():
        text = text.replace("${" + variable + "}", value)
    text = text.strip()
    assert text.endswith(";"), name      # the repo's files end with their statement's semicolon
    return text[:-1].rstrip()


@pytest.fixture
def data_api(monkeypatch):
    yield from stubs.stubbed_data_api(monkeypatch, loader)


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    return stubs.fake_time_for(monkeypatch, loader)


@pytest.fixture
def function_folder(tmp_path, monkeypatch) -> Path:
    """The function as the construct bundles it: sql/redshift copied in as sql/ (queries/ included)."""
    bundled = tmp_path / "asset" / "sql"
    shutil.copytree(SQL_FOLDER, bundled)
    monkeypatch.setattr(loader, "SQL_FOLDER", bundled)
    return bundled


@pytest.fixture
def env(monkeypatch) -> dict[str, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(loader, "manifest_source", lambda: FixedManifest(MANIFEST))
    return ENV


class FixedManifest:
    """Answers every event with one manifest (None: no ETL run has written one)."""

    def __init__(self, manifest) -> None:
        self.manifest, self.events = manifest, []

    def for_event(self, event):
        self.events.append(event)
        return self.manifest


def expect_batch(stubber: Stubber, names: list[str]) -> None:
    stubs.expect_batch(stubber, CONN, [expected_sql(name) for name in names])


def expect_describe(stubber: Stubber, status: str, subs: list[dict] | None = None, error: str | None = None) -> None:
    stubs.expect_describe(stubber, CONN, status, subs, error)


def invoke(event, context=None) -> dict:
    return loader.handler(event, context or FakeContext())


# --- the SQL files ---------------------------------------------------------------------------

def test_the_setup_ddl_runs_apart_and_the_symbols_refresh_is_in_the_load_transaction():
    # External DDL, the loader's user and its grants must not sit in the load transaction (and
    # need the admin); the dimension's delete + insert must.
    assert SETUP_NAMES == ["01_create_schema", "02_create_trades", "03_create_trades_staging", "04_create_symbols",
                           "05_create_external_schema", "06_create_loader_user", "07_grant_schema_usage",
                           "08_grant_symbols", "09_grant_trades", "10_grant_trades_staging", "11_grant_copy_role",
                           "12_revoke_public_assumerole", "13_revoke_public_schema_create"]
    assert LOAD_NAMES == ["20_delete_symbols", "21_insert_symbols", "22_clear_trades_staging", "23_copy_trades",
                          "24_delete_loaded_dates", "25_insert_trades"]


def test_the_statements_run_setup_then_load_in_file_name_order_without_the_queries_folder():
    statements = loader_sql.load_statements(SQL_FOLDER, VARIABLES)
    assert [(s.phase, s.name) for s in statements] == (
        [("setup", name) for name in SETUP_NAMES] + [("load", name) for name in LOAD_NAMES])
    assert [s.name for s in statements] == sorted(s.name for s in statements)   # the names say the run order
    assert not any(s.name.startswith(("01_sector", "02_load", "03_rejected")) for s in statements)


def test_placeholders_are_filled_in_from_the_variables():
    statements = {s.name: s.sql for s in loader_sql.load_statements(SQL_FOLDER, VARIABLES)}
    assert f"FROM '{MANIFEST_URL}'" in statements["23_copy_trades"]
    assert statements["23_copy_trades"].endswith("FORMAT AS PARQUET\nMANIFEST")
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/refarch-lake-reader'" in statements["23_copy_trades"]
    assert "DATABASE 'refarch_lake'" in statements["05_create_external_schema"]
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/refarch-spectrum'" in statements["05_create_external_schema"]
    assert not any("${" in sql for sql in statements.values())
    assert all(sql == expected_sql(name) for name, sql in statements.items())


def test_a_missing_placeholder_value_is_an_error_naming_it_and_its_file():
    variables = {name: value for name, value in ENV.items() if name != "COPY_ROLE_ARN"} | {"LOAD_MANIFEST": MANIFEST_URL}
    with pytest.raises(loader_sql.SqlFileError, match=r"\$\{COPY_ROLE_ARN\} \(in 23_copy_trades.sql\) has no value:"
                                                      r" set the environment variable COPY_ROLE_ARN"):
        loader_sql.load_statements(SQL_FOLDER, variables, phases=(loader_sql.LOAD,))


def test_one_phase_needs_only_its_own_placeholders_but_every_file_s_order_is_checked(tmp_path):
    load_only = {"COPY_ROLE_ARN": ENV["COPY_ROLE_ARN"], "LOAD_MANIFEST": MANIFEST_URL}
    assert [s.name for s in loader_sql.load_statements(SQL_FOLDER, load_only, phases=(loader_sql.LOAD,))] == LOAD_NAMES
    setup_only = {name: VARIABLES[name] for name in ("LOADER_USER", "COPY_ROLE_ARN", "SPECTRUM_ROLE_ARN", "LAKE_DATABASE")}
    assert [s.name for s in loader_sql.load_statements(SQL_FOLDER, setup_only, phases=(loader_sql.SETUP,))] == SETUP_NAMES
    folder = write(tmp_path, {"setup/05_a.sql": "SELECT 1;", "load/03_b.sql": "SELECT 2;"})
    with pytest.raises(loader_sql.SqlFileError, match="load/03_b.sql: order 03 is not after setup/05_a.sql"):
        loader_sql.load_statements(folder, {}, phases=(loader_sql.LOAD,))
    with pytest.raises(loader_sql.SqlFileError, match="phases \\['teardown'\\]: allowed"):
        loader_sql.load_statements(SQL_FOLDER, {}, phases=("teardown",))


LOAD_STUB = {"load/99_z.sql": "SELECT 9;"}      # a loader folder needs both phases


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_a_file_with_two_statements_is_refused(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "-- a\nSELECT 1;\nSELECT 2;\n", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match="01_a.sql: more than one SQL statement"):
        loader_sql.load_statements(folder, {})


def test_a_file_with_only_comments_is_refused(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "-- nothing here\n/* nor here; */\n", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match="01_a.sql: no SQL statement"):
        loader_sql.load_statements(folder, {})


def test_semicolons_in_literals_comments_and_dollar_quotes_do_not_split_a_statement(tmp_path):
    text = ("-- a; b\nSELECT 'x;y', \"odd;name\", 'it''s; fine', $$a;b$$ /* c; */ FROM t -- d;\n;\n"
            "-- trailing comment; after the statement\n")
    folder = write(tmp_path, {"setup/01_a.sql": text, **LOAD_STUB})
    [(phase, name, sql, guard), _] = loader_sql.load_statements(folder, {})
    assert (phase, name, guard) == ("setup", "01_a", None)
    assert sql == "-- a; b\nSELECT 'x;y', \"odd;name\", 'it''s; fine', $$a;b$$ /* c; */ FROM t -- d;"


def test_a_skip_if_guard_is_read_from_the_comments_with_its_placeholders_filled_in(tmp_path):
    text = "-- the user\n-- skip-if: SELECT 1 FROM pg_user WHERE usename = '${U}'  \nCREATE USER \"${U}\" PASSWORD DISABLE;\n"
    folder = write(tmp_path, {"setup/01_a.sql": text, **LOAD_STUB})
    [statement, _] = loader_sql.load_statements(folder, {"U": "refarch_loader"})
    assert statement.guard == "SELECT 1 FROM pg_user WHERE usename = 'refarch_loader'"
    assert statement.sql.endswith('CREATE USER "refarch_loader" PASSWORD DISABLE')


def test_the_repository_s_one_guard_is_the_loader_user_s():
    # Grants and revokes repeat harmlessly; CREATE USER has no IF NOT EXISTS.
    guards = {s.name: s.guard for s in loader_sql.load_statements(SQL_FOLDER, VARIABLES) if s.guard}
    assert guards == {"06_create_loader_user": "SELECT 1 FROM pg_user WHERE usename = 'refarch_loader'"}


@pytest.mark.parametrize("guard, match", [
    ("DELETE FROM t", "must be one SELECT"),
    ("SELECT 1; DROP TABLE t", "must be one SELECT"),
    ("", "must be one SELECT"),
])
def test_a_guard_that_is_not_one_select_is_refused(tmp_path, guard, match):
    folder = write(tmp_path, {"setup/01_a.sql": f"-- skip-if: {guard}\nSELECT 1;", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match=f"01_a.sql: the skip-if guard {match}"):
        loader_sql.load_statements(folder, {})


def test_two_guards_in_a_file_are_refused(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "-- skip-if: SELECT 1\n-- skip-if: SELECT 2\nSELECT 1;", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match="01_a.sql: 2 skip-if guards: one per file"):
        loader_sql.load_statements(folder, {})


def test_a_statement_without_a_semicolon_is_accepted(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "SELECT 1\n", **LOAD_STUB})
    assert loader_sql.load_statements(folder, {}) == [loader_sql.Statement("setup", "01_a", "SELECT 1"),
                                                      loader_sql.Statement("load", "99_z", "SELECT 9")]


@pytest.mark.parametrize("name", ["1_a.sql", "01-a.sql", "01_A.sql", "a_01.sql"])
def test_file_names_must_carry_a_two_digit_order(tmp_path, name):
    folder = write(tmp_path, {f"setup/{name}": "SELECT 1;", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match="the name must be NN_words.sql"):
        loader_sql.load_statements(folder, {})


def test_two_files_with_the_same_order_are_refused_even_in_different_phases(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "SELECT 1;", "load/01_b.sql": "SELECT 2;"})
    with pytest.raises(loader_sql.SqlFileError, match="load/01_b.sql: order 01 is already used by setup/01_a.sql"):
        loader_sql.load_statements(folder, {})


def test_a_load_file_numbered_before_a_setup_file_is_refused(tmp_path):
    # Otherwise the names would not say the run order (setup always runs first).
    folder = write(tmp_path, {"setup/01_a.sql": "SELECT 1;", "setup/05_c.sql": "SELECT 3;",
                              "load/03_b.sql": "SELECT 2;"})
    with pytest.raises(loader_sql.SqlFileError, match="load/03_b.sql: order 03 is not after setup/05_c.sql"):
        loader_sql.load_statements(folder, {})


def test_a_sql_file_directly_in_the_folder_is_refused_rather_than_skipped(tmp_path):
    folder = write(tmp_path, {"23_copy_trades.sql": "SELECT 1;", "setup/01_a.sql": "SELECT 1;", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match=r"23_copy_trades.sql in .*: statement files belong in setup/"
                                                      r" \(DDL, run one by one\) or load/"):
        loader_sql.load_statements(folder, {})


@pytest.mark.parametrize("missing", ["setup", "load"])
def test_a_missing_phase_folder_is_named(tmp_path, missing):
    folder = write(tmp_path, {name: text for name, text in {"setup/01_a.sql": "SELECT 1;", **LOAD_STUB}.items()
                              if not name.startswith(missing)})
    with pytest.raises(loader_sql.SqlFileError, match=rf"no \*.sql files in .*{missing}$"):
        loader_sql.load_statements(folder, {})


def test_a_value_that_could_end_the_sql_literal_is_refused(tmp_path):
    copy = "COPY t FROM 's3://${CURATED_BUCKET}/x/' IAM_ROLE 'r' FORMAT AS PARQUET;"
    folder = write(tmp_path, {"setup/00_s.sql": "SELECT 0;", "load/01_a.sql": copy})
    with pytest.raises(loader_sql.SqlFileError, match=r"value of \$\{CURATED_BUCKET\}"):
        loader_sql.load_statements(folder, {"CURATED_BUCKET": "b' OR '1'='1"})


def test_a_malformed_placeholder_is_refused(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "SELECT '${not closed';", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match=r"01_a.sql: line 1: '\$\{' that is not a placeholder"):
        loader_sql.load_statements(folder, {})


def test_a_missing_sql_folder_is_named(tmp_path):
    with pytest.raises(loader_sql.SqlFileError, match="no SQL folder"):
        loader_sql.load_statements(tmp_path / "nowhere", {})


# --- the Data API calls ------------------------------------------------------------------------

def test_a_load_sends_only_the_load_statements_as_one_batch_as_the_loader_user(data_api, fake_time, function_folder, env):
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "SUBMITTED")
    expect_describe(data_api, "STARTED")
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES, {"21_insert_symbols": 8, "23_copy_trades": 264,
                                                                "25_insert_trades": 264}))

    result = invoke({})

    assert data_api.calls == ["BatchExecuteStatement"] + ["DescribeStatement"] * 3   # no ExecuteStatement: no setup
    assert result["batch_id"] == BATCH_ID and result["status"] == "FINISHED"
    assert [(s["phase"], s["name"]) for s in result["statements"]] == [("load", name) for name in LOAD_NAMES]
    by_name = {s["name"]: s for s in result["statements"]}
    assert by_name["20_delete_symbols"]["id"] == f"{BATCH_ID}:1"    # sub-statements count within the batch
    assert by_name["23_copy_trades"]["rows"] == 264 and by_name["25_insert_trades"]["rows"] == 264
    assert by_name["21_insert_symbols"]["rows"] == 8 and by_name["22_clear_trades_staging"]["rows"] is None
    assert by_name["21_insert_symbols"]["duration_ms"] == 3.0                      # 3,000,000 ns
    assert fake_time.sleeps == [1.0, 2.0]
    assert result["polls"] == 3


def test_the_poll_interval_grows_to_a_ceiling(data_api, fake_time, function_folder, env):
    expect_batch(data_api, LOAD_NAMES)
    for _ in range(6):
        expect_describe(data_api, "STARTED")
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES))
    invoke({})
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_each_statement_is_logged_with_its_phase_id_duration_and_rows(
        data_api, fake_time, function_folder, env, caplog):
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES, {"23_copy_trades": 264}))
    with caplog.at_level("INFO", logger="redshift-loader"):
        invoke({})
    # Powertools renders each record as one JSON line: the record's extra fields become keys.
    logs = [json.loads(loader.logger.registered_formatter.format(record)) for record in caplog.records]
    finished_logs = [entry for entry in logs if entry["message"] == "statement finished"]
    assert [(entry["phase"], entry["statement"]) for entry in finished_logs] == [("load", name) for name in LOAD_NAMES]
    copy = next(entry for entry in finished_logs if entry["statement"] == "23_copy_trades")
    assert copy["statement_id"] == f"{BATCH_ID}:4" and copy["rows"] == 264 and copy["redshift_query_id"] == 7004
    assert copy["duration_ms"] == 6.0
    assert copy["service"] == "redshift-loader" and copy["function_request_id"] == FakeContext.aws_request_id


def test_a_failed_load_statement_rolls_the_batch_back_naming_the_file_and_redshifts_error(
        data_api, fake_time, function_folder, env):
    copy = LOAD_NAMES.index("23_copy_trades") + 1
    error = "Spectrum Scan Error: S3ServiceException:Access Denied,Status 403"
    subs = [sub(i) for i in range(1, copy)] + [sub(copy, "FAILED", error=error)]
    subs += [sub(i, "ABORTED") for i in range(copy + 1, len(LOAD_NAMES) + 1)]
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "STARTED")
    expect_describe(data_api, "FAILED", subs, error=error)

    with pytest.raises(loader_run.StatementFailed) as failure:
        invoke({})

    message = str(failure.value)
    assert f"23_copy_trades.sql ({BATCH_ID}:4) failed: {error}" in message
    assert "The load batch ran as one transaction, so nothing from it was committed" in message
    assert message.endswith("not run: 24_delete_loaded_dates, 25_insert_trades")
    assert failure.value.name == "23_copy_trades" and failure.value.redshift_error == error
    # Nothing after the failure: no further Data API call (the Stubber would refuse one) and no retry.


def test_a_missing_grant_surfaces_as_redshift_s_permission_error_naming_the_file(
        data_api, fake_time, function_folder, env):
    expect_batch(data_api, ["23_copy_trades"])
    expect_describe(data_api, "FAILED", error="ERROR: permission denied for relation trades_staging")
    with pytest.raises(loader_run.StatementFailed, match="23_copy_trades.*permission denied for relation trades_staging"):
        invoke({"statements": ["23_copy_trades"]})


def test_an_aborted_batch_fails_the_invocation(data_api, fake_time, function_folder, env):
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "ABORTED", [sub(1), sub(2, "ABORTED")] + [sub(i, "SUBMITTED") for i in range(3, 7)],
                    error="Query cancelled on user's request")
    with pytest.raises(loader_run.StatementFailed, match="21_insert_symbols.sql .* was aborted: Query cancelled"):
        invoke({})


def test_a_subset_runs_as_a_batch_in_file_order(data_api, fake_time, function_folder, env):
    expect_batch(data_api, ["22_clear_trades_staging", "23_copy_trades"])
    expect_describe(data_api, "FINISHED", finished(["22_clear_trades_staging", "23_copy_trades"]))
    result = invoke({"statements": ["23_copy_trades", "22_clear_trades_staging"]})
    assert [(s["phase"], s["name"]) for s in result["statements"]] == [
        ("load", "22_clear_trades_staging"), ("load", "23_copy_trades")]
    assert data_api.calls == ["BatchExecuteStatement", "DescribeStatement"]


def test_the_brief_s_single_statement_event_runs_just_the_copy(data_api, fake_time, function_folder, env):
    expect_batch(data_api, ["23_copy_trades"])
    expect_describe(data_api, "FINISHED", finished(["23_copy_trades"], {"23_copy_trades": 10}))
    assert invoke({"statements": ["23_copy_trades"]})["statements"][0]["rows"] == 10


def test_a_scheduled_eventbridge_event_runs_the_load_batch(data_api, fake_time, function_folder, env):
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES))
    event = {"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
             "time": "2024-05-04T04:00:00Z", "resources": ["arn:aws:events:us-east-1:123456789012:rule/x"],
             "detail": {}}
    assert len(invoke(event)["statements"]) == len(LOAD_NAMES) == 6


@pytest.mark.parametrize("event, match", [
    ({"statements": ["23_copy_trade"]}, "unknown statement.*'23_copy_trade'.*known: 20_delete_symbols"),
    ({"statements": ["23_copy_trades", "23_copy_trades"]}, "named more than once: 23_copy_trades"),
    ({"statements": "23_copy_trades"}, '"statements" must be a non-empty list'),
    ({"statements": []}, '"statements" must be a non-empty list'),
    ({"statements": ["06_create_loader_user", "23_copy_trades"]},
     "06_create_loader_user: setup statements run at deploy, as the admin, by the setup function"),
    ([1, 2], "the event must be a JSON object"),
    ({"RequestType": "Create", "ResourceProperties": {"Warehouse": {}}}, r"the setup function \(redshift_setup"),
    ({"streaming": {"STREAM_NAME": "s"}}, r"the setup function \(redshift_setup"),
])
def test_a_bad_event_is_refused_before_any_call(data_api, fake_time, function_folder, env, event, match):
    with pytest.raises(loader.ConfigError, match=match):
        invoke(event)
    assert data_api.calls == []


@pytest.mark.parametrize("missing", ["CLUSTER_ID", "DATABASE", "DB_USER"])
def test_a_missing_connection_variable_is_named(data_api, fake_time, function_folder, env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(loader.ConfigError, match=f"environment variable {missing} is not set"):
        invoke({})


def test_a_missing_placeholder_variable_fails_before_any_call(data_api, fake_time, function_folder, env, monkeypatch):
    monkeypatch.delenv("COPY_ROLE_ARN")
    with pytest.raises(loader.ConfigError, match=r"\$\{COPY_ROLE_ARN\} \(in 23_copy_trades.sql\)"
                                                 r" has no value: set the environment variable COPY_ROLE_ARN"):
        invoke({})
    assert data_api.calls == []


def test_with_nothing_to_copy_a_missing_placeholder_still_fails(data_api, fake_time, function_folder, env,
                                                                monkeypatch):
    monkeypatch.setattr(loader, "manifest_source", lambda: FixedManifest(None))
    monkeypatch.delenv("COPY_ROLE_ARN")
    with pytest.raises(loader.ConfigError, match=r"\$\{COPY_ROLE_ARN\}"):
        invoke({})


def test_only_the_two_placeholder_variables_come_from_the_environment(tmp_path, monkeypatch):
    folder = write(tmp_path / "sql", {"setup/01_a.sql": "SELECT 1;", "load/02_b.sql": "SELECT '${AWS_SECRET_ACCESS_KEY}';"})
    environ = {**ENV, "AWS_SECRET_ACCESS_KEY": "do-not-leak"}
    with pytest.raises(loader.ConfigError, match=r"\$\{AWS_SECRET_ACCESS_KEY\}.* has no value"):
        loader.load({}, environ, client=None, sql_folder=folder, budget_seconds=60,
                    clock=FakeTime().clock, sleep=FakeTime().sleep, manifests=FixedManifest(MANIFEST))
    assert loader.PLACEHOLDER_VARIABLES == ("CURATED_BUCKET", "COPY_ROLE_ARN")


@pytest.mark.parametrize("user", ["Refarch_Loader", "1loader", "loader; DROP TABLE x", "a" * 128])
def test_a_db_user_that_is_not_a_redshift_user_name_is_refused(data_api, fake_time, function_folder, env,
                                                               monkeypatch, user):
    monkeypatch.setenv("DB_USER", user)
    with pytest.raises(loader.ConfigError, match=r"DB_USER=.*: expected a Redshift user name"):
        invoke({})


def test_the_function_without_its_bundled_sql_says_so(data_api, fake_time, env, monkeypatch, tmp_path):
    monkeypatch.setattr(loader, "SQL_FOLDER", tmp_path / "sql")
    with pytest.raises(loader.ConfigError, match="copies sql/redshift into the function's asset as sql/"):
        invoke({})


def test_the_bundled_sql_keeps_its_phase_folders(function_folder):
    # The construct copies sql/redshift whole: the loader finds setup/ and load/ under sql/.
    assert sorted(path.name for path in function_folder.iterdir()) == ["load", "queries", "setup", "streaming"]
    assert [s.name for s in loader_sql.load_statements(function_folder, VARIABLES)] == FILE_NAMES


# --- the deadline ----------------------------------------------------------------------------------

def test_a_batch_still_running_at_the_deadline_is_cancelled_and_fails_with_a_timeout(
        data_api, fake_time, function_folder, env):
    # 30 s left, 15 s kept back: the loader may wait until t0 + 15 s and no longer.
    expect_batch(data_api, LOAD_NAMES)
    for _ in range(4):                   # polls at +0, +1, +3, +7; sleeping 8 s more would reach +15
        expect_describe(data_api, "STARTED")
    data_api.add_response("cancel_statement", {"Status": True}, {"Id": BATCH_ID})
    started = fake_time.now

    with pytest.raises(loader_run.LoadTimeout) as timeout:
        invoke({}, FakeContext(remaining_ms=30_000))

    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert fake_time.now - started < 15.0                # stopped before the deadline
    message = str(timeout.value)
    assert BATCH_ID in message and "20_delete_symbols" in message and "25_insert_trades" in message
    assert message.endswith("it was cancelled, so nothing from the load batch was committed")


def test_a_timeout_whose_cancel_fails_says_to_check_the_statement(data_api, fake_time, function_folder, env):
    expect_batch(data_api, LOAD_NAMES)
    for _ in range(4):
        expect_describe(data_api, "STARTED")
    data_api.add_client_error("cancel_statement", "ValidationException", "Could not cancel a query that is not running")
    with pytest.raises(loader_run.LoadTimeout, match="cancelling it failed: check it with DescribeStatement"):
        invoke({}, FakeContext(remaining_ms=30_000))


def test_with_too_little_time_left_nothing_is_started(data_api, fake_time, function_folder, env):
    with pytest.raises(loader_run.LoadTimeout, match="not starting 20_delete_symbols, .*25_insert_trades"):
        invoke({}, FakeContext(remaining_ms=15_500))   # 0.5 s after the safety margin
    assert data_api.calls == []


def test_more_load_statements_than_a_batch_takes_are_refused_before_anything_runs():
    statements = [loader_sql.Statement("setup", "00_s", "SELECT 0")]
    statements += [loader_sql.Statement("load", f"{i:02d}_s", "SELECT 1") for i in range(1, 42)]
    timing = loader_run.Timing(deadline=100.0, clock=FakeTime().clock, sleep=FakeTime().sleep)
    with pytest.raises(loader_run.LoadError, match="41 load statements: BatchExecuteStatement takes at most 40"):
        loader_run.run_phases(None, loader_run.Target("c", "d", "s"), statements, timing=timing)   # no client needed


# --- what a load copies: one ETL run's manifest -----------------------------------------------

@pytest.mark.parametrize("manifest", [None, loader_manifest.LoadManifest(MANIFEST_URL, 0, ())],
                         ids=["no run yet", "a run with nothing new"])
def test_with_nothing_to_copy_nothing_is_sent(data_api, fake_time, function_folder, env, monkeypatch, manifest):
    monkeypatch.setattr(loader, "manifest_source", lambda: FixedManifest(manifest))
    result = invoke({})
    assert result == {"batch_id": None, "status": "NOTHING_TO_LOAD", "waited_seconds": 0.0, "polls": 0,
                      "statements": [], "manifest": None}
    assert data_api.calls == []


def test_the_load_reports_the_manifest_it_copied(data_api, fake_time, function_folder, env):
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES))
    assert invoke({})["manifest"] == {"url": MANIFEST_URL, "files": 2, "trade_dates": ["2024-05-02"]}


@pytest.fixture
def s3(monkeypatch):
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=ENV["CURATED_BUCKET"])
        yield client


def put_manifest(s3, run_id: str, days: list[str]) -> None:
    entries = [{"url": f"s3://{ENV['CURATED_BUCKET']}/trades/trade_date={day}/part-00000.snappy.parquet",
                "mandatory": True, "meta": {"content_length": 1234}} for day in days]
    s3.put_object(Bucket=ENV["CURATED_BUCKET"], Key=f"{ENV['LOAD_MANIFEST_PREFIX']}{run_id}.manifest",
                  Body=json.dumps({"entries": entries}).encode())


def manifests(s3):
    return loader_manifest.S3Manifests(s3, ENV["CURATED_BUCKET"], ENV["LOAD_MANIFEST_PREFIX"])


def test_a_glue_job_state_event_loads_the_manifest_of_that_run(s3):
    put_manifest(s3, "jr_aaa", ["2024-05-01"])
    put_manifest(s3, "jr_bbb", ["2024-05-02", "2024-05-03"])
    event = {"source": "aws.glue", "detail-type": "Glue Job State Change",
             "detail": {"jobName": "refarch-dev-BatchDataLake-CurateTrades", "jobRunId": "jr_aaa", "state": "SUCCEEDED"}}
    manifest = manifests(s3).for_event(event)
    assert (manifest.url.rsplit("/", 1)[1], manifest.files, manifest.trade_dates) == (
        "jr_aaa.manifest", 1, ("2024-05-01",))
    assert manifests(s3).for_event({"run_id": "jr_bbb"}).trade_dates == ("2024-05-02", "2024-05-03")


def test_without_a_run_id_the_newest_manifest_is_loaded(s3):
    assert manifests(s3).for_event({}) is None                       # no ETL run yet
    put_manifest(s3, "jr_old", ["2024-05-01"])
    put_manifest(s3, "jr_new", ["2024-05-02"])
    s3.put_object(Bucket=ENV["CURATED_BUCKET"], Key=f"{ENV['LOAD_MANIFEST_PREFIX']}jr_new.json", Body=b"{}")
    assert manifests(s3).for_event({"detail-type": "Scheduled Event"}).url.endswith("/jr_new.manifest")


@pytest.mark.parametrize("event, match", [
    ({"run_id": "jr_missing"}, "jr_missing.manifest does not exist"),
    ({"run_id": "jr_1; DROP"}, "run id 'jr_1; DROP': expected a Glue job run id"),
])
def test_a_run_without_a_usable_manifest_is_named(s3, event, match):
    with pytest.raises(loader_manifest.ManifestError, match=match):
        manifests(s3).for_event(event)


def test_a_manifest_entry_outside_the_curated_trades_is_refused(s3):
    s3.put_object(Bucket=ENV["CURATED_BUCKET"], Key=f"{ENV['LOAD_MANIFEST_PREFIX']}jr_x.manifest",
                  Body=json.dumps({"entries": [{"url": "s3://elsewhere/secret.parquet", "mandatory": True,
                                                "meta": {"content_length": 1}}]}).encode())
    with pytest.raises(loader_manifest.ManifestError, match="is not a curated trades file"):
        manifests(s3).for_event({"run_id": "jr_x"})
