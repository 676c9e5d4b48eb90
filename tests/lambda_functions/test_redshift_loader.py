"""The Redshift loader Lambda: which SQL it sends to the Data API, in what order and with what
connection parameters (asserted with botocore's Stubber: an unexpected or missing call fails
the test): the setup statements one ExecuteStatement at a time, then the load statements as one
BatchExecuteStatement; how it waits for each, and how failures, timeouts and bad configuration
surface."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from refarch.paths import SQL_ROOT
from tests.lambda_loader import load

loader = load("redshift_loader", "redshift_loader")
loader_sql = load("redshift_loader", "redshift_loader_sql")
loader_run = load("redshift_loader", "redshift_loader_run")
loader_manifest = load("redshift_loader", "redshift_loader_manifest")

SQL_FOLDER = SQL_ROOT / "redshift"
ENV = {
    "CLUSTER_ID": "refarch-warehouse",
    "DATABASE": "analytics",
    "DB_USER": "refarch_admin",
    "CURATED_BUCKET": "refarch-curated-123456789012",
    "COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-lake-reader",
    "SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-spectrum",
    "LAKE_DATABASE": "refarch_lake",
    "LOAD_MANIFEST_PREFIX": "_quality/refarch-dev-BatchDataLake-CurateTrades/",
}
# The manifest of the ETL run a load copies (by default: two files of one trade date).
MANIFEST_URL = "s3://refarch-curated-123456789012/_quality/refarch-dev-BatchDataLake-CurateTrades/jr_1.manifest"
MANIFEST = loader_manifest.LoadManifest(MANIFEST_URL, 2, ("2024-05-02",))
VARIABLES = {**ENV, "LOAD_MANIFEST": MANIFEST_URL}   # what the loader fills the SQL with
BATCH_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"
SETUP_NAMES = sorted(path.stem for path in (SQL_FOLDER / "setup").glob("*.sql"))
LOAD_NAMES = sorted(path.stem for path in (SQL_FOLDER / "load").glob("*.sql"))
FILE_NAMES = SETUP_NAMES + LOAD_NAMES
WHEN = datetime(2024, 5, 4, 4, 0, tzinfo=timezone.utc)


def expected_sql(name: str) -> str:
    """What must be sent for a file, derived independently of the loader: the file's text with
    the placeholders replaced, up to (without) its final semicolon."""
    phase = "setup" if name in SETUP_NAMES else "load"
    text = (SQL_FOLDER / phase / f"{name}.sql").read_text()
    for variable in ("CURATED_BUCKET", "COPY_ROLE_ARN", "SPECTRUM_ROLE_ARN", "LAKE_DATABASE"):
        text = text.replace("${" + variable + "}", ENV[variable])
    text = text.replace("${LOAD_MANIFEST}", MANIFEST_URL)
    text = text.strip()
    assert text.endswith(";"), name      # the repo's files end with their statement's semicolon
    return text[:-1].rstrip()


@dataclass
class FakeContext:
    remaining_ms: int = 900_000
    function_name: str = "refarch-redshift-loader"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:refarch-redshift-loader"
    aws_request_id: str = "0c6b3f8e-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class FakeTime:
    """A clock that only moves when the loader sleeps."""
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def statement_id(name: str) -> str:
    """The id Redshift gives a setup statement's ExecuteStatement (one per file)."""
    return f"5e7c1a2b-0000-4000-8000-{int(name[:2]):012d}"


@pytest.fixture
def data_api(monkeypatch):
    client = boto3.client("redshift-data", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    calls: list[str] = []       # the operations called, in order (read by the call-sequence test)
    client.meta.events.register("before-parameter-build.redshift-data.*",
                                lambda model, **_: calls.append(model.name))
    with Stubber(client) as stubber:
        stubber.calls = calls
        monkeypatch.setattr(loader, "data_api_client", lambda: client)
        yield stubber
        stubber.assert_no_pending_responses()   # every expected call was made


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(loader, "clock", fake.clock)
    monkeypatch.setattr(loader, "sleep", fake.sleep)
    return fake


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


def expect_execute(stubber: Stubber, name: str) -> None:
    stubber.add_response(
        "execute_statement",
        {"Id": statement_id(name), "CreatedAt": WHEN, "ClusterIdentifier": ENV["CLUSTER_ID"],
         "Database": ENV["DATABASE"], "DbUser": ENV["DB_USER"]},
        {"ClusterIdentifier": ENV["CLUSTER_ID"], "Database": ENV["DATABASE"], "DbUser": ENV["DB_USER"],
         "Sql": expected_sql(name), "StatementName": f"refarch-redshift-loader:{name}"})


def expect_statement(stubber: Stubber, name: str, status: str = "FINISHED", *, polls: int = 1,
                     error: str | None = None) -> None:
    """One setup statement: ExecuteStatement, then DescribeStatement `polls` times (STARTED until
    the last, which reports `status`)."""
    expect_execute(stubber, name)
    for _ in range(polls - 1):
        expect_describe(stubber, "STARTED", of=statement_id(name))
    response = {"Id": statement_id(name), "Status": status, "CreatedAt": WHEN, "UpdatedAt": WHEN,
                "ClusterIdentifier": ENV["CLUSTER_ID"], "Database": ENV["DATABASE"]}
    if status == "FINISHED":
        response.update(Duration=int(name[:2]) * 1_000_000, ResultRows=-1, RedshiftQueryId=6000 + int(name[:2]))
    if error:
        response["Error"] = error
    stubber.add_response("describe_statement", response, {"Id": statement_id(name)})


def expect_setup(stubber: Stubber, names: list[str] = SETUP_NAMES) -> None:
    for name in names:
        expect_statement(stubber, name)


def expect_batch(stubber: Stubber, names: list[str]) -> None:
    stubber.add_response(
        "batch_execute_statement",
        {"Id": BATCH_ID, "CreatedAt": WHEN, "ClusterIdentifier": ENV["CLUSTER_ID"], "Database": ENV["DATABASE"],
         "DbUser": ENV["DB_USER"]},
        {"ClusterIdentifier": ENV["CLUSTER_ID"], "Database": ENV["DATABASE"], "DbUser": ENV["DB_USER"],
         "Sqls": [expected_sql(name) for name in names], "StatementName": "refarch-redshift-loader"})


def expect_describe(stubber: Stubber, status: str, subs: list[dict] | None = None, error: str | None = None,
                    *, of: str = BATCH_ID) -> None:
    response = {"Id": of, "Status": status, "CreatedAt": WHEN, "UpdatedAt": WHEN,
                "ClusterIdentifier": ENV["CLUSTER_ID"], "Database": ENV["DATABASE"]}
    if subs is not None:
        response["SubStatements"] = subs
        response["Duration"] = sum(sub.get("Duration", 0) for sub in subs)
    if error:
        response["Error"] = error
    stubber.add_response("describe_statement", response, {"Id": of})


def sub(index: int, status: str = "FINISHED", *, rows: int = 0, error: str | None = None) -> dict:
    item = {"Id": f"{BATCH_ID}:{index}", "Status": status, "CreatedAt": WHEN, "UpdatedAt": WHEN}
    if status in ("FINISHED", "FAILED"):
        item.update(Duration=(index * 1_500_000), ResultRows=rows, RedshiftQueryId=7000 + index)
    if error:
        item["Error"] = error
    return item


def finished(names: list[str], rows: dict[str, int] | None = None) -> list[dict]:
    return [sub(i, rows=(rows or {}).get(name, -1)) for i, name in enumerate(names, start=1)]


def invoke(event, context=None) -> dict:
    return loader.handler(event, context or FakeContext())


# --- the SQL files ---------------------------------------------------------------------------

def test_the_setup_ddl_runs_apart_and_the_symbols_refresh_is_in_the_load_transaction():
    # External DDL must not sit in the transaction; the dimension's delete + insert must.
    assert SETUP_NAMES == ["01_create_schema", "02_create_trades", "03_create_trades_staging", "04_create_symbols",
                           "05_create_external_schema"]
    assert LOAD_NAMES == ["06_delete_symbols", "07_insert_symbols", "08_clear_trades_staging", "09_copy_trades",
                          "10_delete_loaded_dates", "11_insert_trades"]


def test_the_statements_run_setup_then_load_in_file_name_order_without_the_queries_folder():
    statements = loader_sql.load_statements(SQL_FOLDER, VARIABLES)
    assert [(s.phase, s.name) for s in statements] == (
        [("setup", name) for name in SETUP_NAMES] + [("load", name) for name in LOAD_NAMES])
    assert [s.name for s in statements] == sorted(s.name for s in statements)   # the names say the run order
    assert not any(s.name.startswith(("01_sector", "02_load", "03_rejected")) for s in statements)


def test_placeholders_are_filled_in_from_the_variables():
    statements = {s.name: s.sql for s in loader_sql.load_statements(SQL_FOLDER, VARIABLES)}
    assert f"FROM '{MANIFEST_URL}'" in statements["09_copy_trades"]
    assert statements["09_copy_trades"].endswith("FORMAT AS PARQUET\nMANIFEST")
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/refarch-lake-reader'" in statements["09_copy_trades"]
    assert "DATABASE 'refarch_lake'" in statements["05_create_external_schema"]
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/refarch-spectrum'" in statements["05_create_external_schema"]
    assert not any("${" in sql for sql in statements.values())
    assert all(sql == expected_sql(name) for name, sql in statements.items())


def test_a_missing_placeholder_value_is_an_error_naming_it_and_its_file():
    variables = {name: value for name, value in ENV.items() if name != "COPY_ROLE_ARN"} | {"LOAD_MANIFEST": MANIFEST_URL}
    with pytest.raises(loader_sql.SqlFileError, match=r"\$\{COPY_ROLE_ARN\} \(in 09_copy_trades.sql\) has no value:"
                                                      r" set the environment variable COPY_ROLE_ARN"):
        loader_sql.load_statements(SQL_FOLDER, variables)


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
    [(phase, name, sql), _] = loader_sql.load_statements(folder, {})
    assert (phase, name) == ("setup", "01_a")
    assert sql == "-- a; b\nSELECT 'x;y', \"odd;name\", 'it''s; fine', $$a;b$$ /* c; */ FROM t -- d;"


def test_a_statement_without_a_semicolon_is_accepted(tmp_path):
    folder = write(tmp_path, {"setup/01_a.sql": "SELECT 1\n", **LOAD_STUB})
    assert loader_sql.load_statements(folder, {}) == [("setup", "01_a", "SELECT 1"), ("load", "99_z", "SELECT 9")]


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
    folder = write(tmp_path, {"09_copy_trades.sql": "SELECT 1;", "setup/01_a.sql": "SELECT 1;", **LOAD_STUB})
    with pytest.raises(loader_sql.SqlFileError, match=r"09_copy_trades.sql in .*: statement files belong in setup/"
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

def test_a_full_run_sends_each_setup_statement_alone_then_the_load_as_one_batch(
        data_api, fake_time, function_folder, env):
    expect_statement(data_api, "01_create_schema", polls=3)         # polled until FINISHED before the next
    expect_setup(data_api, SETUP_NAMES[1:])
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "SUBMITTED")
    expect_describe(data_api, "STARTED")
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES, {"07_insert_symbols": 8, "09_copy_trades": 264,
                                                                "11_insert_trades": 264}))

    result = invoke({})

    assert data_api.calls == (["ExecuteStatement", "DescribeStatement", "DescribeStatement", "DescribeStatement"]
                              + ["ExecuteStatement", "DescribeStatement"] * 4
                              + ["BatchExecuteStatement"] + ["DescribeStatement"] * 3)
    assert result["batch_id"] == BATCH_ID and result["status"] == "FINISHED"
    assert [(s["phase"], s["name"]) for s in result["statements"]] == (
        [("setup", name) for name in SETUP_NAMES] + [("load", name) for name in LOAD_NAMES])
    by_name = {s["name"]: s for s in result["statements"]}
    assert by_name["05_create_external_schema"] == {
        "phase": "setup", "name": "05_create_external_schema", "id": statement_id("05_create_external_schema"),
        "status": "FINISHED", "duration_ms": 5.0, "rows": None, "redshift_query_id": 6005}
    assert by_name["06_delete_symbols"]["id"] == f"{BATCH_ID}:1"    # sub-statements count within the batch
    assert by_name["09_copy_trades"]["rows"] == 264 and by_name["11_insert_trades"]["rows"] == 264
    assert by_name["07_insert_symbols"]["rows"] == 8 and by_name["08_clear_trades_staging"]["rows"] is None
    assert by_name["07_insert_symbols"]["duration_ms"] == 3.0                      # 3,000,000 ns
    assert fake_time.sleeps == [1.0, 2.0, 1.0, 2.0]     # the interval grows per statement, and restarts
    assert result["polls"] == 3 + 4 + 3


def test_the_poll_interval_grows_to_a_ceiling(data_api, fake_time, function_folder, env):
    expect_setup(data_api)
    expect_batch(data_api, LOAD_NAMES)
    for _ in range(6):
        expect_describe(data_api, "STARTED")
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES))
    invoke({})
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_each_statement_is_logged_with_its_phase_id_duration_and_rows(
        data_api, fake_time, function_folder, env, caplog):
    expect_setup(data_api)
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES, {"09_copy_trades": 264}))
    with caplog.at_level("INFO", logger="redshift-loader"):
        invoke({})
    # Powertools renders each record as one JSON line: the record's extra fields become keys.
    logs = [json.loads(loader.logger.registered_formatter.format(record)) for record in caplog.records]
    finished_logs = [entry for entry in logs if entry["message"] == "statement finished"]
    assert [(entry["phase"], entry["statement"]) for entry in finished_logs] == (
        [("setup", name) for name in SETUP_NAMES] + [("load", name) for name in LOAD_NAMES])
    copy = next(entry for entry in finished_logs if entry["statement"] == "09_copy_trades")
    assert copy["statement_id"] == f"{BATCH_ID}:4" and copy["rows"] == 264 and copy["redshift_query_id"] == 7004
    assert copy["duration_ms"] == 6.0
    assert copy["service"] == "redshift-loader" and copy["function_request_id"] == FakeContext.aws_request_id
    schema = finished_logs[0]
    assert schema["statement_id"] == statement_id("01_create_schema") and schema["redshift_query_id"] == 6001


def test_a_failed_setup_statement_stops_the_run_naming_the_file_and_redshifts_error(
        data_api, fake_time, function_folder, env):
    error = "ERROR: Not authorized to get credentials of role arn:aws:iam::123456789012:role/refarch-spectrum"
    expect_setup(data_api, SETUP_NAMES[:4])
    expect_statement(data_api, "05_create_external_schema", "FAILED", polls=2, error=error)

    with pytest.raises(loader_run.StatementFailed) as failure:
        invoke({})

    message = str(failure.value)
    assert message.startswith(f"Redshift statement 05_create_external_schema.sql"
                              f" ({statement_id('05_create_external_schema')}) failed: {error}")
    assert ("committed before it: 01_create_schema, 02_create_trades, 03_create_trades_staging, 04_create_symbols"
            " (idempotent)") in message
    assert "not run: " + ", ".join(LOAD_NAMES) in message
    assert failure.value.name == "05_create_external_schema" and failure.value.redshift_error == error
    # No batch: the Stubber would refuse the call (and the error would not be StatementFailed).
    assert "BatchExecuteStatement" not in data_api.calls


def test_an_aborted_setup_statement_fails_the_invocation(data_api, fake_time, function_folder, env):
    expect_statement(data_api, "01_create_schema", "ABORTED", error="Query cancelled on user's request")
    with pytest.raises(loader_run.StatementFailed, match=r"01_create_schema.sql \(.*\) was aborted: Query cancelled"
                                                         r".*; not run: 02_create_trades, "):
        invoke({})


def test_a_failed_load_statement_rolls_the_batch_back_naming_the_file_and_redshifts_error(
        data_api, fake_time, function_folder, env):
    copy = LOAD_NAMES.index("09_copy_trades") + 1
    error = "Spectrum Scan Error: S3ServiceException:Access Denied,Status 403"
    subs = [sub(i) for i in range(1, copy)] + [sub(copy, "FAILED", error=error)]
    subs += [sub(i, "ABORTED") for i in range(copy + 1, len(LOAD_NAMES) + 1)]
    expect_setup(data_api)
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "STARTED")
    expect_describe(data_api, "FAILED", subs, error=error)

    with pytest.raises(loader_run.StatementFailed) as failure:
        invoke({})

    message = str(failure.value)
    assert f"09_copy_trades.sql ({BATCH_ID}:4) failed: {error}" in message
    assert "The load batch ran as one transaction, so nothing from it was committed" in message
    assert "not run: 10_delete_loaded_dates, 11_insert_trades" in message
    assert "setup (" + ", ".join(SETUP_NAMES) + ") had committed (idempotent)" in message
    assert failure.value.name == "09_copy_trades" and failure.value.redshift_error == error
    # Nothing after the failure: no further Data API call (the Stubber would refuse one) and no retry.


def test_a_failure_without_sub_statement_details_still_quotes_redshifts_error(
        data_api, fake_time, function_folder, env):
    expect_batch(data_api, ["09_copy_trades"])
    expect_describe(data_api, "FAILED", error="ERROR: permission denied for schema analytics")
    with pytest.raises(loader_run.StatementFailed, match="09_copy_trades.*permission denied for schema analytics"):
        invoke({"statements": ["09_copy_trades"]})


def test_an_aborted_batch_fails_the_invocation(data_api, fake_time, function_folder, env):
    expect_setup(data_api)
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "ABORTED", [sub(1), sub(2, "ABORTED")] + [sub(i, "SUBMITTED") for i in range(3, 7)],
                    error="Query cancelled on user's request")
    with pytest.raises(loader_run.StatementFailed, match="07_insert_symbols.sql .* was aborted: Query cancelled"):
        invoke({})


def test_a_subset_across_phases_runs_setup_ones_alone_and_load_ones_as_a_batch_in_file_order(
        data_api, fake_time, function_folder, env):
    expect_statement(data_api, "01_create_schema")
    expect_statement(data_api, "05_create_external_schema")
    expect_batch(data_api, ["08_clear_trades_staging", "09_copy_trades"])
    expect_describe(data_api, "FINISHED", finished(["08_clear_trades_staging", "09_copy_trades"]))
    result = invoke({"statements": ["09_copy_trades", "05_create_external_schema", "08_clear_trades_staging",
                                    "01_create_schema"]})
    assert [(s["phase"], s["name"]) for s in result["statements"]] == [
        ("setup", "01_create_schema"), ("setup", "05_create_external_schema"),
        ("load", "08_clear_trades_staging"), ("load", "09_copy_trades")]
    assert data_api.calls == ["ExecuteStatement", "DescribeStatement"] * 2 + ["BatchExecuteStatement",
                                                                               "DescribeStatement"]


def test_a_subset_of_setup_statements_sends_no_batch(data_api, fake_time, function_folder, env):
    expect_statement(data_api, "05_create_external_schema")
    result = invoke({"statements": ["05_create_external_schema"]})
    assert result["batch_id"] is None and result["status"] == "FINISHED"
    assert [s["name"] for s in result["statements"]] == ["05_create_external_schema"]


def test_the_brief_s_single_statement_event_runs_just_the_copy(data_api, fake_time, function_folder, env):
    expect_batch(data_api, ["09_copy_trades"])
    expect_describe(data_api, "FINISHED", finished(["09_copy_trades"], {"09_copy_trades": 10}))
    assert invoke({"statements": ["09_copy_trades"]})["statements"][0]["rows"] == 10


def test_a_scheduled_eventbridge_event_runs_everything(data_api, fake_time, function_folder, env):
    expect_setup(data_api)
    expect_batch(data_api, LOAD_NAMES)
    expect_describe(data_api, "FINISHED", finished(LOAD_NAMES))
    event = {"version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
             "time": "2024-05-04T04:00:00Z", "resources": ["arn:aws:events:us-east-1:123456789012:rule/x"],
             "detail": {}}
    assert len(invoke(event)["statements"]) == len(FILE_NAMES) == 11


@pytest.mark.parametrize("event, match", [
    ({"statements": ["09_copy_trade"]}, "unknown statement.*'09_copy_trade'.*known: 01_create_schema"),
    ({"statements": ["09_copy_trades", "09_copy_trades"]}, "named more than once: 09_copy_trades"),
    ({"statements": "09_copy_trades"}, '"statements" must be a non-empty list'),
    ({"statements": []}, '"statements" must be a non-empty list'),
    ([1, 2], "the event must be a JSON object"),
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
    monkeypatch.delenv("SPECTRUM_ROLE_ARN")
    with pytest.raises(loader.ConfigError, match=r"\$\{SPECTRUM_ROLE_ARN\} \(in 05_create_external_schema.sql\)"
                                                 r" has no value: set the environment variable SPECTRUM_ROLE_ARN"):
        invoke({})
    assert data_api.calls == []


def test_only_the_four_placeholder_variables_come_from_the_environment(tmp_path, monkeypatch):
    folder = write(tmp_path / "sql", {"setup/01_a.sql": "SELECT '${AWS_SECRET_ACCESS_KEY}';", **LOAD_STUB})
    environ = {**ENV, "AWS_SECRET_ACCESS_KEY": "do-not-leak"}
    with pytest.raises(loader.ConfigError, match=r"\$\{AWS_SECRET_ACCESS_KEY\}.* has no value"):
        loader.load({}, environ, client=None, sql_folder=folder, budget_seconds=60,
                    clock=FakeTime().clock, sleep=FakeTime().sleep)


@pytest.mark.parametrize("user", ["Refarch_Admin", "1admin", "admin; DROP TABLE x", "a" * 128])
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
    expect_setup(data_api)
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
    assert BATCH_ID in message and "06_delete_symbols" in message and "11_insert_trades" in message
    assert "it was cancelled, so nothing from the load batch was committed" in message
    assert "setup (" + ", ".join(SETUP_NAMES) + ") had committed" in message


def test_a_setup_statement_still_running_at_the_deadline_is_cancelled_and_nothing_after_it_runs(
        data_api, fake_time, function_folder, env):
    expect_statement(data_api, "01_create_schema")
    expect_execute(data_api, "02_create_trades")
    for _ in range(4):
        expect_describe(data_api, "STARTED", of=statement_id("02_create_trades"))
    data_api.add_response("cancel_statement", {"Status": True}, {"Id": statement_id("02_create_trades")})

    with pytest.raises(loader_run.LoadTimeout) as timeout:
        invoke({}, FakeContext(remaining_ms=30_000))

    message = str(timeout.value)
    assert message.startswith(f"Redshift statement {statement_id('02_create_trades')} (02_create_trades) was still"
                              " STARTED after 7.0 s, at the Lambda's deadline; it was cancelled, so it was rolled back")
    assert "committed before it: 01_create_schema (idempotent); not run: 03_create_trades_staging," in message
    assert data_api.calls[-1] == "CancelStatement" and "BatchExecuteStatement" not in data_api.calls


def test_one_deadline_covers_both_phases_so_slow_setup_leaves_the_load_unstarted(
        data_api, fake_time, function_folder, env):
    # 29.5 s left: the deadline is t0 + 14.5 s. Two setup statements take 7 s each; 0.5 s remains.
    expect_setup(data_api, SETUP_NAMES[:3])
    expect_statement(data_api, "04_create_symbols", polls=4)
    expect_statement(data_api, "05_create_external_schema", polls=4)
    started = fake_time.now
    left = r"only 0.5 s left before the deadline: not starting 06_delete_symbols, .*, 11_insert_trades"
    with pytest.raises(loader_run.LoadTimeout, match=left + r"; setup \(01_create_schema,"):
        invoke({}, FakeContext(remaining_ms=29_500))
    assert fake_time.now - started == 14.0
    assert "BatchExecuteStatement" not in data_api.calls


def test_a_timeout_whose_cancel_fails_says_to_check_the_statement(data_api, fake_time, function_folder, env):
    expect_setup(data_api)
    expect_batch(data_api, LOAD_NAMES)
    for _ in range(4):
        expect_describe(data_api, "STARTED")
    data_api.add_client_error("cancel_statement", "ValidationException", "Could not cancel a query that is not running")
    with pytest.raises(loader_run.LoadTimeout, match="cancelling it failed: check it with DescribeStatement"):
        invoke({}, FakeContext(remaining_ms=30_000))


def test_with_too_little_time_left_nothing_is_started(data_api, fake_time, function_folder, env):
    with pytest.raises(loader_run.LoadTimeout, match="not starting 01_create_schema; not run: 02_create_trades"):
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
def test_with_nothing_to_copy_only_the_setup_statements_run(data_api, fake_time, function_folder, env,
                                                            monkeypatch, manifest):
    monkeypatch.setattr(loader, "manifest_source", lambda: FixedManifest(manifest))
    expect_setup(data_api)
    result = invoke({})
    assert result["batch_id"] is None and result["manifest"] is None
    assert [s["name"] for s in result["statements"]] == SETUP_NAMES
    assert "batch_execute_statement" not in [c.lower() for c in data_api.calls]


def test_the_load_reports_the_manifest_it_copied(data_api, fake_time, function_folder, env):
    expect_setup(data_api)
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
