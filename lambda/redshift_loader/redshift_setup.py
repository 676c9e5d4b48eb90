"""Redshift setup: the Lambda entry point `redshift_setup.handler` (the loader's asset, its own
function and role).

Runs, as the cluster's admin user (DB_USER), the statements no load should be able to run:
  sql/setup/*.sql            the warehouse: schema, tables (IF NOT EXISTS), the Spectrum external
                             schema, the loader's database user (PASSWORD DISABLE: IAM credentials
                             only) and exactly the grants its load batch needs
  sql/streaming/setup/*.sql  a stream's ingestion: the external schema FROM KINESIS and the
                             auto-refreshing materialized view
one ExecuteStatement each, in file order, each committed on its own (redshift_loader_run). A
statement with a `-- skip-if:` guard (CREATE USER has no IF NOT EXISTS) is sent only when its
guard's SELECT returns no row.

It answers CloudFormation custom-resource events from CDK's provider framework (a failed statement
fails the deploy, naming the file and quoting Redshift):
  ResourceProperties.Warehouse  {LOADER_USER, COPY_ROLE_ARN, SPECTRUM_ROLE_ARN, LAKE_DATABASE}: Create
                                and Update run the warehouse setup (every statement is idempotent, and
                                the construct puts a hash of the SQL in the properties, so an edited
                                setup file runs on the next deploy); Delete changes nothing
  ResourceProperties.Streaming  {STREAM_NAME, STREAMING_ROLE_ARN}: Create runs the streaming setup;
                                Update and Delete change nothing (the view keeps what it ingested)
The values come from the event (the properties), so a changed role or user re-runs the setup; only
the names above are substituted into SQL, each checked (LOADER_USER must be a plain user name and
not the admin's). An operator may also invoke it with {"streaming": {STREAM_NAME, STREAMING_ROLE_ARN}}
to run a stream's setup again (after dropping the view to change its SQL).

Environment (set by the CDK construct):
  CLUSTER_ID  the Redshift cluster identifier
  DATABASE    the database to run in
  DB_USER     the admin user, with temporary credentials that the Data API gets for it
              (redshift:GetClusterCredentials): no stored password
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from redshift_loader_run import (
    SAFETY_MARGIN_SECONDS,
    SKIPPED,
    ConfigError,
    LoadError,
    LoadResult,
    Timing,
    db_user_problem,
    load_target,
    run_phases,
)
from redshift_loader_sql import SETUP, SqlFileError, Statement, load_statements, streaming_statements

SERVICE = "redshift-setup"
logger = Logger(service=SERVICE)

SQL_FOLDER = Path(__file__).resolve().parent / "sql"
STATEMENT_NAME = "refarch-redshift-setup"
WAREHOUSE_VARIABLES = ("LOADER_USER", "COPY_ROLE_ARN", "SPECTRUM_ROLE_ARN", "LAKE_DATABASE")
STREAMING_VARIABLES = ("STREAM_NAME", "STREAMING_ROLE_ARN")
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

# Indirections the tests replace.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


def requested_variables(request: Any, names: tuple[str, ...], what: str) -> dict[str, str]:
    """The placeholders `names` from an event's properties, each given (SQL-safe values are checked
    when they are substituted)."""
    if not isinstance(request, Mapping):
        raise ConfigError(f'"{what}" must be an object with {" and ".join(names)}')
    missing = [name for name in names if not str(request.get(name) or "").strip()]
    if missing:
        raise ConfigError(f'"{what}" lacks {", ".join(missing)}')
    return {name: str(request[name]).strip() for name in names}


def streaming_variables(request: Any) -> dict[str, str]:
    return requested_variables(request, STREAMING_VARIABLES, "Streaming")


def warehouse_variables(request: Any, admin_user: str) -> dict[str, str]:
    variables = requested_variables(request, WAREHOUSE_VARIABLES, "Warehouse")
    problem = db_user_problem("LOADER_USER", variables["LOADER_USER"])
    if problem:   # it is an identifier in CREATE USER and GRANT ... TO: a plain name only
        raise ConfigError(problem)
    if variables["LOADER_USER"] == admin_user:
        raise ConfigError(f"LOADER_USER={admin_user!r} is the admin user (DB_USER): the loader needs its own user")
    return variables


def _run(statements: list[Statement], environ: Mapping[str, str], *, client, budget_seconds: float,
         clock: Callable[[], float], sleep: Callable[[float], None], log) -> LoadResult:
    timing = Timing(deadline=clock() + budget_seconds - SAFETY_MARGIN_SECONDS, clock=clock, sleep=sleep)
    return run_phases(client, load_target(environ), statements, timing=timing, log=log,
                      statement_name=STATEMENT_NAME)


def setup_warehouse(request: Any, environ: Mapping[str, str], *, client, sql_folder: Path, budget_seconds: float,
                    clock: Callable[[], float], sleep: Callable[[float], None], log=None) -> LoadResult:
    """The warehouse's setup statements, as the admin."""
    target = load_target(environ)
    variables = warehouse_variables(request, target.db_user)
    try:
        statements = load_statements(sql_folder, variables, phases=(SETUP,))
    except SqlFileError as error:
        raise ConfigError(str(error)) from None
    return _run(statements, environ, client=client, budget_seconds=budget_seconds, clock=clock, sleep=sleep, log=log)


def setup_streaming(request: Any, environ: Mapping[str, str], *, client, sql_folder: Path, budget_seconds: float,
                    clock: Callable[[], float], sleep: Callable[[float], None], log=None) -> LoadResult:
    """A stream's ingestion setup statements, as the admin."""
    load_target(environ)
    try:
        statements = streaming_statements(sql_folder, streaming_variables(request))
    except SqlFileError as error:
        raise ConfigError(str(error)) from None
    return _run(statements, environ, client=client, budget_seconds=budget_seconds, clock=clock, sleep=sleep, log=log)


def custom_resource(event: Any, *, warehouse: Callable[[Any], LoadResult],
                    streaming: Callable[[Any], LoadResult]) -> dict:
    """A CloudFormation event from CDK's provider framework: what to run, and the answer."""
    if not isinstance(event, Mapping) or event.get("RequestType") not in ("Create", "Update", "Delete"):
        raise ConfigError("the setup function answers CloudFormation custom-resource events (RequestType Create,"
                          " Update or Delete) from the stack's provider; the loader runs loads")
    kind = event["RequestType"]
    props = event.get("ResourceProperties") or {}
    if "Warehouse" in props:
        request = props["Warehouse"]
        user = request.get("LOADER_USER", "unknown") if isinstance(request, Mapping) else "unknown"
        physical_id = event.get("PhysicalResourceId") or f"warehouse-setup:{user}"
        run = warehouse if kind in ("Create", "Update") else None    # idempotent: an update re-applies
    elif "Streaming" in props:
        request = props["Streaming"]
        stream = request.get("STREAM_NAME", "unknown") if isinstance(request, Mapping) else "unknown"
        physical_id = event.get("PhysicalResourceId") or f"streaming-setup:{stream}"
        run = streaming if kind == "Create" else None    # the view keeps what it ingested
    else:
        raise ConfigError("ResourceProperties must hold Warehouse (the warehouse setup) or Streaming (a stream's"
                          " ingestion setup)")
    if run is None:
        return {"PhysicalResourceId": physical_id}
    result = run(request)
    skipped = sum(1 for outcome in result.statements if outcome.status == SKIPPED)
    return {"PhysicalResourceId": physical_id,
            "Data": {"Statements": len(result.statements), "Skipped": skipped}}


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    budget = context.get_remaining_time_in_millis() / 1000
    common = {"sql_folder": SQL_FOLDER, "budget_seconds": budget, "clock": clock, "sleep": sleep, "log": logger}
    try:
        if isinstance(event, Mapping) and "streaming" in event and "RequestType" not in event:
            return setup_streaming(event["streaming"], os.environ, client=data_api_client(), **common).as_dict()
        return custom_resource(
            event,
            warehouse=lambda request: setup_warehouse(request, os.environ, client=data_api_client(), **common),
            streaming=lambda request: setup_streaming(request, os.environ, client=data_api_client(), **common))
    except LoadError as error:        # ours: the message says what and where
        logger.error("setup failed", extra={"error": str(error), "error_type": type(error).__name__})
        raise
    except Exception:                 # an AWS API error (permissions, throttling after retries): with its trace
        logger.exception("setup failed")
        raise


@lru_cache(maxsize=1)
def data_api_client():
    return boto3.client("redshift-data", config=_CLIENT_CONFIG)
