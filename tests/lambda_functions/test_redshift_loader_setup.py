"""The setup function (lambda/redshift_loader/redshift_setup.py): the warehouse's setup statements,
as the ADMIN user, one ExecuteStatement each, a skip-if guard's SELECT before its statement (a
row back: skipped), on the custom-resource events of CDK's provider framework. Every Data API
call is asserted with botocore's Stubber, its DbUser and SQL included; the streaming events and
their variables are in test_redshift_loader_streaming.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from botocore.stub import Stubber

from refarch.paths import SQL_ROOT
from tests.lambda_functions import redshift_data_api as stubs
from tests.lambda_functions.redshift_data_api import Connection, FakeContext, FakeTime, statement_id
from tests.lambda_loader import load

setup = load("redshift_loader", "redshift_setup")
loader_run = load("redshift_loader", "redshift_loader_run")
loader_sql = load("redshift_loader", "redshift_loader_sql")

SQL_FOLDER = SQL_ROOT / "redshift"
ENV = {"CLUSTER_ID": "refarch-warehouse", "DATABASE": "analytics", "DB_USER": "refarch_admin"}
ADMIN = Connection(ENV["CLUSTER_ID"], ENV["DATABASE"], ENV["DB_USER"], "refarch-redshift-setup")
WAREHOUSE = {"LOADER_USER": "refarch_loader", "COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-lake-reader",
             "SPECTRUM_ROLE_ARN": "arn:aws:iam::123456789012:role/refarch-lake-reader", "LAKE_DATABASE": "refarch_lake"}
STREAMING = {"STREAM_NAME": "refarch-dev-clean", "STREAMING_ROLE_ARN": "arn:aws:iam::123456789012:role/ingest"}
SETUP_NAMES = sorted(path.stem for path in (SQL_FOLDER / "setup").glob("*.sql"))
GUARDED = {"06_create_loader_user"}
USER_GUARD = "SELECT 1 FROM pg_user WHERE usename = 'refarch_loader'"


def expected_sql(name: str, folder: str = "setup", variables: dict[str, str] = WAREHOUSE) -> str:
    """The file's text with the placeholders replaced, without its final semicolon (derived here,
    independently of the function)."""
    text = (SQL_FOLDER / folder / f"{name}.sql").read_text()
    for variable, value in variables.items():
        text = text.replace("${" + variable + "}", value)
    return text.strip().removesuffix(";").rstrip()


@pytest.fixture
def data_api(monkeypatch):
    yield from stubs.stubbed_data_api(monkeypatch, setup)


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    return stubs.fake_time_for(monkeypatch, setup)


@pytest.fixture
def env(monkeypatch, tmp_path) -> dict[str, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    bundled = tmp_path / "asset" / "sql"          # as the construct bundles it
    shutil.copytree(SQL_FOLDER, bundled)
    monkeypatch.setattr(setup, "SQL_FOLDER", bundled)
    return ENV


def event(kind: str, properties: dict | None = None, **extra) -> dict:
    props = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
             "Warehouse": WAREHOUSE, "SqlHash": "0" * 64} if properties is None else properties
    return {"RequestType": kind, "ResourceProperties": props, "StackId": "arn:aws:cloudformation:stack/x",
            "RequestId": "r1", "LogicalResourceId": "WarehouseSetup", "ResourceType": "Custom::RedshiftWarehouseSetup",
            **extra}


def invoke(request: dict, context=None) -> dict:
    return setup.handler(request, context or FakeContext())


def expect_statement(stubber: Stubber, name: str, **kwargs) -> None:
    stubs.expect_statement(stubber, ADMIN, name, expected_sql(name), **kwargs)


def expect_setup(stubber: Stubber, *, user_exists: bool, names: list[str] = SETUP_NAMES) -> None:
    for name in names:
        if name in GUARDED:
            stubs.expect_guard(stubber, ADMIN, name, USER_GUARD, rows=1 if user_exists else 0)
            if user_exists:
                continue
        expect_statement(stubber, name)


def test_a_first_deploy_runs_every_setup_statement_as_the_admin_after_its_guard(data_api, fake_time, env):
    expect_setup(data_api, user_exists=False)

    answer = invoke(event("Create"))

    assert answer == {"PhysicalResourceId": "warehouse-setup:refarch_loader",
                      "Data": {"Statements": len(SETUP_NAMES), "Skipped": 0}}
    calls = []
    for name in SETUP_NAMES:
        if name in GUARDED:
            calls += ["ExecuteStatement", "DescribeStatement", "GetStatementResult"]
        calls += ["ExecuteStatement", "DescribeStatement"]
    assert data_api.calls == calls      # one at a time, and never a batch


def test_a_re_run_skips_creating_the_existing_user_and_re_applies_the_rest(data_api, fake_time, env):
    expect_setup(data_api, user_exists=True)
    answer = invoke(event("Update", PhysicalResourceId="warehouse-setup:refarch_loader"))
    assert answer == {"PhysicalResourceId": "warehouse-setup:refarch_loader",
                      "Data": {"Statements": len(SETUP_NAMES), "Skipped": 1}}


def test_a_skipped_statement_is_reported_with_its_guard_s_id(data_api, fake_time, env, monkeypatch):
    expect_setup(data_api, user_exists=True)
    result = setup.setup_warehouse(WAREHOUSE, ENV, client=setup.data_api_client(), sql_folder=setup.SQL_FOLDER,
                                   budget_seconds=900, clock=fake_time.clock, sleep=fake_time.sleep)
    by_name = {outcome.name: outcome for outcome in result.statements}
    assert by_name["06_create_loader_user"].as_dict() == {
        "phase": "setup", "name": "06_create_loader_user", "id": statement_id("06_create_loader_user", guard=True),
        "status": "SKIPPED", "duration_ms": None, "rows": None, "redshift_query_id": None}
    assert by_name["12_revoke_public_assumerole"].status == "FINISHED"
    assert result.batch_id is None


def test_delete_changes_nothing(data_api, fake_time, env):
    answer = invoke(event("Delete", PhysicalResourceId="warehouse-setup:refarch_loader"))
    assert answer == {"PhysicalResourceId": "warehouse-setup:refarch_loader"}
    assert data_api.calls == []


def test_a_stream_s_setup_runs_its_statements_as_the_admin(data_api, fake_time, env):
    names = ["01_create_clickstream_schema", "02_create_kinesis_schema", "03_create_events_view"]
    for name in names:
        stubs.expect_statement(data_api, ADMIN, name, expected_sql(name, "streaming/setup", STREAMING))
    answer = invoke(event("Create", {"Streaming": STREAMING}))
    assert answer == {"PhysicalResourceId": "streaming-setup:refarch-dev-clean",
                      "Data": {"Statements": 3, "Skipped": 0}}


def test_an_operator_may_run_a_stream_s_setup_again_by_invoking_the_function(data_api, fake_time, env):
    names = ["01_create_clickstream_schema", "02_create_kinesis_schema", "03_create_events_view"]
    for name in names:
        stubs.expect_statement(data_api, ADMIN, name, expected_sql(name, "streaming/setup", STREAMING))
    result = invoke({"streaming": STREAMING})
    assert [(s["phase"], s["name"], s["status"]) for s in result["statements"]] == [
        ("setup", name, "FINISHED") for name in names]


def test_a_failed_setup_statement_stops_the_run_naming_the_file_and_redshifts_error(data_api, fake_time, env):
    error = "ERROR: Not authorized to get credentials of role arn:aws:iam::123456789012:role/refarch-lake-reader"
    for name in SETUP_NAMES[:4]:
        expect_statement(data_api, name)
    expect_statement(data_api, "05_create_external_schema", status="FAILED", polls=2, error=error)

    with pytest.raises(loader_run.StatementFailed) as failure:
        invoke(event("Create"))

    message = str(failure.value)
    assert message.startswith(f"Redshift statement 05_create_external_schema.sql"
                              f" ({statement_id('05_create_external_schema')}) failed: {error}")
    assert ("committed before it: 01_create_schema, 02_create_trades, 03_create_trades_staging, 04_create_symbols"
            " (idempotent); not run: 06_create_loader_user, ") in message
    assert failure.value.name == "05_create_external_schema" and failure.value.redshift_error == error


def test_a_failed_guard_fails_the_run_naming_the_file_s_guard(data_api, fake_time, env):
    for name in SETUP_NAMES[:5]:
        expect_statement(data_api, name)
    stubs.expect_execute(data_api, ADMIN, "06_create_loader_user", USER_GUARD, guard=True)
    stubs.expect_describe(data_api, ADMIN, "FAILED", error="ERROR: permission denied for relation pg_user",
                          of=statement_id("06_create_loader_user", guard=True))
    with pytest.raises(loader_run.StatementFailed, match=r"^Redshift statement 06_create_loader_user.sql \(skip-if"
                                                         r" guard\) \(.*\) failed: ERROR: permission denied"):
        invoke(event("Create"))
    assert "GetStatementResult" not in data_api.calls


def test_an_aborted_setup_statement_fails_the_invocation(data_api, fake_time, env):
    expect_statement(data_api, "01_create_schema", status="ABORTED", error="Query cancelled on user's request")
    with pytest.raises(loader_run.StatementFailed, match=r"01_create_schema.sql \(.*\) was aborted: Query cancelled"
                                                         r".*; not run: 02_create_trades, "):
        invoke(event("Create"))


def test_a_setup_statement_still_running_at_the_deadline_is_cancelled_and_nothing_after_it_runs(
        data_api, fake_time, env):
    expect_statement(data_api, "01_create_schema")
    stubs.expect_execute(data_api, ADMIN, "02_create_trades", expected_sql("02_create_trades"))
    for _ in range(4):
        stubs.expect_describe(data_api, ADMIN, "STARTED", of=statement_id("02_create_trades"))
    data_api.add_response("cancel_statement", {"Status": True}, {"Id": statement_id("02_create_trades")})

    with pytest.raises(loader_run.LoadTimeout) as timeout:
        invoke(event("Create"), FakeContext(remaining_ms=30_000))

    message = str(timeout.value)
    assert message.startswith(f"Redshift statement {statement_id('02_create_trades')} (02_create_trades) was still"
                              " STARTED after 7.0 s, at the Lambda's deadline; it was cancelled, so it was rolled back")
    assert "committed before it: 01_create_schema (idempotent); not run: 03_create_trades_staging," in message
    assert data_api.calls[-1] == "CancelStatement"


def test_each_statement_is_logged_with_its_status(data_api, fake_time, env, caplog):
    expect_setup(data_api, user_exists=True)
    with caplog.at_level("INFO", logger="redshift-setup"):
        invoke(event("Create"))
    logs = [json.loads(setup.logger.registered_formatter.format(record)) for record in caplog.records]
    finished = {entry["statement"]: entry["status"] for entry in logs if entry["message"] == "statement finished"}
    assert list(finished) == SETUP_NAMES
    assert finished["06_create_loader_user"] == "SKIPPED" and finished["12_revoke_public_assumerole"] == "FINISHED"
    assert all(entry["service"] == "redshift-setup" for entry in logs)


@pytest.mark.parametrize("warehouse, match", [
    ({**WAREHOUSE, "LOADER_USER": "Loader"}, r"LOADER_USER='Loader': expected a Redshift user name"),
    ({**WAREHOUSE, "LOADER_USER": "refarch_loader, public"}, "LOADER_USER=.*: expected a Redshift user name"),
    ({**WAREHOUSE, "LOADER_USER": "refarch_admin"}, "LOADER_USER='refarch_admin' is the admin user"),
    ({k: v for k, v in WAREHOUSE.items() if k != "COPY_ROLE_ARN"}, '"Warehouse" lacks COPY_ROLE_ARN'),
    ({**WAREHOUSE, "COPY_ROLE_ARN": "x' OR '1'='1"}, r"value of \$\{COPY_ROLE_ARN\}"),
    ("refarch_loader", '"Warehouse" must be an object'),
])
def test_bad_properties_are_refused_before_any_call(data_api, fake_time, env, warehouse, match):
    with pytest.raises(setup.ConfigError, match=match):
        invoke(event("Create", {"Warehouse": warehouse}))
    assert data_api.calls == []


@pytest.mark.parametrize("request_, match", [
    ({"RequestType": "Create", "ResourceProperties": {"Other": {}}}, "must hold Warehouse .* or Streaming"),
    ({}, "answers CloudFormation custom-resource events"),
    ({"statements": ["06_create_loader_user"]}, "answers CloudFormation custom-resource events"),
])
def test_anything_but_a_setup_event_is_refused(data_api, fake_time, env, request_, match):
    with pytest.raises(setup.ConfigError, match=match):
        invoke(request_)
    assert data_api.calls == []


@pytest.mark.parametrize("missing", ["CLUSTER_ID", "DATABASE", "DB_USER"])
def test_a_missing_connection_variable_is_named(data_api, fake_time, env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(setup.ConfigError, match=f"environment variable {missing} is not set"):
        invoke(event("Create"))
