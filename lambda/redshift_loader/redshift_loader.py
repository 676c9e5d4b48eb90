"""Redshift loader: the Lambda entry point `redshift_loader.handler`.

Runs the warehouse's SQL (sql/redshift/, which the CDK construct copies into this function's
asset as `sql/`, next to this file) through the Redshift Data API in two phases:
  sql/setup/*.sql  schema, tables (IF NOT EXISTS) and the Spectrum external schema, one
                   ExecuteStatement each, in order, each committed on its own
  sql/load/*.sql   the symbols dimension refresh and the idempotent reload of analytics.trades
                   from the curated lake (clear staging, COPY the files one ETL run wrote, delete
                   the staged trade dates, insert), as ONE BatchExecuteStatement: a single transaction
See redshift_loader_run for why the phases differ.

What a load copies: the COPY manifest of one run of the lake's ETL job (redshift_loader_manifest):
the run a Glue job-state event or {"run_id": ...} names, else the newest. A manifest with no
files (the run had nothing new) runs the setup statements only; so does a lake with no run yet.

Event (anything else in it, such as EventBridge's scheduled-event fields, is ignored):
  {}                                       every statement, in file order, for the newest run
  {"run_id": "jr_..."}                     every statement, for that run (a backfill run, say)
  {"statements": ["09_copy_trades", ...]}  only those (file names without .sql, from either phase),
                                           in file order: setup ones one by one, load ones as a batch
  {"streaming": {"STREAM_NAME": ..., "STREAMING_ROLE_ARN": ...}}
                                           the streaming-ingestion setup (sql/streaming/setup/*.sql:
                                           the external schema FROM KINESIS and the auto-refreshing
                                           view), one by one; never part of a load
  a CloudFormation custom-resource event   (CDK's provider framework, from the stack that owns the
  with ResourceProperties.Streaming        stream) Create runs the streaming setup; Update and Delete
                                           change nothing: the view keeps what it ingested

Environment (set by the CDK construct):
  CLUSTER_ID         the Redshift cluster identifier
  DATABASE           the database to run in
  DB_USER            the database user the statements run as, with temporary credentials that the
                     Data API gets for it (redshift:GetClusterCredentials): no stored password
  CURATED_BUCKET     placeholder ${CURATED_BUCKET}: the lake's curated bucket
  COPY_ROLE_ARN      placeholder ${COPY_ROLE_ARN}: the role COPY reads the lake with
  SPECTRUM_ROLE_ARN  placeholder ${SPECTRUM_ROLE_ARN}: the role Spectrum reads the catalog and lake with
  LAKE_DATABASE      placeholder ${LAKE_DATABASE}: the lake's Glue database
  LOAD_MANIFEST_PREFIX  where the ETL runs' manifests are in CURATED_BUCKET (_quality/<job name>/)
Only those four names are substituted into SQL (never the rest of the environment, which holds
the function's credentials), and ${LOAD_MANIFEST}, the manifest's s3:// URL; a placeholder
without a value fails the run, naming it.

Any failure raises, so the invocation fails and the stack's alarm on Lambda errors fires.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from redshift_loader_manifest import LoadManifest, ManifestError, S3Manifests
from redshift_loader_run import LoadError, LoadResult, Target, Timing, run_phases
from redshift_loader_sql import LOAD, SqlFileError, load_statements, select_statements, streaming_statements

SERVICE = "redshift-loader"
logger = Logger(service=SERVICE)

DB_USER_NAME = re.compile(r"[a-z_][a-z0-9_$]{0,126}")
SQL_FOLDER = Path(__file__).resolve().parent / "sql"
PLACEHOLDER_VARIABLES = ("CURATED_BUCKET", "COPY_ROLE_ARN", "SPECTRUM_ROLE_ARN", "LAKE_DATABASE")
STREAMING_VARIABLES = ("STREAM_NAME", "STREAMING_ROLE_ARN")
# Time kept back from the Lambda's remaining time to cancel a running statement or batch and report.
SAFETY_MARGIN_SECONDS = 15.0
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

# Indirections the tests replace.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


class ConfigError(LoadError, ValueError):
    """The environment or the event cannot be used; the message names the variable or field."""


def load_target(environ: Mapping[str, str]) -> Target:
    def required(name: str, meaning: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"environment variable {name} is not set: expected {meaning}")
        return value

    cluster_id = required("CLUSTER_ID", "the Redshift cluster identifier")
    database = required("DATABASE", "the database name")
    db_user = required("DB_USER", "the database user to run the statements as")
    if not DB_USER_NAME.fullmatch(db_user):
        raise ConfigError(f"DB_USER={db_user!r}: expected a Redshift user name (lower-case letters, "
                          "digits, _ or $, starting with a letter or _, at most 127 characters)")
    return Target(cluster_id=cluster_id, database=database, db_user=db_user)


def placeholder_values(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environ[name] for name in PLACEHOLDER_VARIABLES if environ.get(name, "").strip()}


def requested_statements(event: Any) -> list[str] | None:
    """The statement names an event asks for, or None for all of them."""
    if event is None:
        return None
    if not isinstance(event, Mapping):
        raise ConfigError(f"the event must be a JSON object, got {type(event).__name__}")
    if "statements" not in event:
        return None
    names = event["statements"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError('"statements" must be a non-empty list of statement names'
                          ' (SQL file names without .sql), e.g. ["09_copy_trades"]')
    return [name.strip().removesuffix(".sql") for name in names]


# Fills ${LOAD_MANIFEST} when there is nothing to copy; the load statements are then not sent.
NO_MANIFEST = "s3://nothing-to-load/none.manifest"


def load(event: Any, environ: Mapping[str, str], *, client, sql_folder: Path, budget_seconds: float,
         clock: Callable[[], float], sleep: Callable[[float], None], log=None,
         manifests: S3Manifests | None = None) -> tuple[LoadResult, LoadManifest | None]:
    """Everything the handler does, with its collaborators passed in: the load's outcome and the
    manifest it copied (None: nothing to copy, so only the setup statements ran)."""
    target = load_target(environ)
    names = requested_statements(event)
    if not Path(sql_folder).is_dir():
        raise ConfigError(f"no SQL folder {sql_folder}: the CDK construct copies sql/redshift into the"
                          " function's asset as sql/")
    try:
        manifest = manifests.for_event(event) if manifests is not None else None
    except ManifestError as error:
        raise ConfigError(str(error)) from None
    copying = manifest is not None and manifest.files > 0
    variables = {**placeholder_values(environ), "LOAD_MANIFEST": manifest.url if copying else NO_MANIFEST}
    try:
        statements = select_statements(load_statements(sql_folder, variables), names)
    except SqlFileError as error:
        raise ConfigError(str(error)) from None
    if not copying:   # no run yet, or it wrote nothing: the warehouse stays as it is
        statements = [s for s in statements if s.phase != LOAD]
    if log is not None:
        log.info("load planned", extra={"manifest": manifest.as_dict() if manifest else None,
                                        "statements": [s.name for s in statements]})
    timing = Timing(deadline=clock() + budget_seconds - SAFETY_MARGIN_SECONDS, clock=clock, sleep=sleep)
    return run_phases(client, target, statements, timing=timing, log=log), (manifest if copying else None)


def streaming_variables(request: Any) -> dict[str, str]:
    """The streaming setup's placeholders, from an event (each must be given; SQL-safe values are
    checked when they are substituted)."""
    if not isinstance(request, Mapping):
        raise ConfigError('"streaming" must be an object with STREAM_NAME and STREAMING_ROLE_ARN')
    missing = [name for name in STREAMING_VARIABLES if not str(request.get(name) or "").strip()]
    if missing:
        raise ConfigError(f'"streaming" lacks {", ".join(missing)}')
    return {name: str(request[name]).strip() for name in STREAMING_VARIABLES}


def setup_streaming(request: Any, environ: Mapping[str, str], *, client, sql_folder: Path, budget_seconds: float,
                    clock: Callable[[], float], sleep: Callable[[float], None], log=None) -> LoadResult:
    target = load_target(environ)
    try:
        statements = streaming_statements(sql_folder, streaming_variables(request))
    except SqlFileError as error:
        raise ConfigError(str(error)) from None
    timing = Timing(deadline=clock() + budget_seconds - SAFETY_MARGIN_SECONDS, clock=clock, sleep=sleep)
    return run_phases(client, target, statements, timing=timing, log=log)


def custom_resource(event: Mapping[str, Any], run: Callable[[Any], LoadResult]) -> dict:
    """A CloudFormation event from CDK's provider framework: Create runs the streaming setup."""
    props = event.get("ResourceProperties") or {}
    physical_id = event.get("PhysicalResourceId") or \
        f"streaming-setup:{(props.get('Streaming') or {}).get('STREAM_NAME', 'unknown')}"
    if event.get("RequestType") != "Create":
        return {"PhysicalResourceId": physical_id}
    result = run(props.get("Streaming"))
    return {"PhysicalResourceId": physical_id, "Data": {"Statements": len(result.statements)}}


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    budget = context.get_remaining_time_in_millis() / 1000

    def streaming(request: Any) -> LoadResult:
        return setup_streaming(request, os.environ, client=data_api_client(), sql_folder=SQL_FOLDER,
                               budget_seconds=budget, clock=clock, sleep=sleep, log=logger)
    try:
        if isinstance(event, Mapping) and "RequestType" in event:
            return custom_resource(event, streaming)
        if isinstance(event, Mapping) and "streaming" in event:
            return streaming(event["streaming"]).as_dict()
        result, manifest = load(event, os.environ, client=data_api_client(), sql_folder=SQL_FOLDER,
                                budget_seconds=budget, clock=clock, sleep=sleep, log=logger,
                                manifests=manifest_source())
    except LoadError as error:        # ours: the message says what and where
        logger.error("load failed", extra={"error": str(error), "error_type": type(error).__name__})
        raise
    except Exception:                 # an AWS API error (permissions, throttling after retries): with its trace
        logger.exception("load failed")
        raise
    return {**result.as_dict(), "manifest": manifest.as_dict() if manifest else None}


@lru_cache(maxsize=1)
def data_api_client():
    return boto3.client("redshift-data", config=_CLIENT_CONFIG)


def manifest_source() -> S3Manifests:
    """The ETL runs' manifests, from CURATED_BUCKET and LOAD_MANIFEST_PREFIX."""
    bucket = os.environ.get("CURATED_BUCKET", "").strip()
    prefix = os.environ.get("LOAD_MANIFEST_PREFIX", "").strip()
    if not bucket or not prefix.endswith("/"):
        raise ConfigError("environment variables CURATED_BUCKET and LOAD_MANIFEST_PREFIX (ending in /) must be"
                          " set: the bucket and prefix of the lake ETL runs' COPY manifests")
    return S3Manifests(_s3_client(), bucket, prefix)


@lru_cache(maxsize=1)
def _s3_client():
    return boto3.client("s3", config=_CLIENT_CONFIG)
