"""Redshift loader: the Lambda entry point `redshift_loader.handler`.

Runs the warehouse's load batch (sql/redshift/load/*.sql, which the CDK construct copies into this
function's asset as `sql/load/`, next to this file) through the Redshift Data API, as the loader's
own database user (DB_USER, created and granted by the setup statements; see redshift_setup): the
symbols dimension refresh and the idempotent reload of analytics.trades from the curated lake (clear
staging, COPY the files one ETL run wrote, delete the staged trade dates, insert), as ONE
BatchExecuteStatement: a single transaction (see redshift_loader_run). The loader never runs DDL:
the schema, the tables and the grants are the setup function's, run as the admin at deploy, so this
function's role can get database credentials for the loader's user only, never the admin's.

What a load copies: the COPY manifest of one run of the lake's ETL job (redshift_loader_manifest):
the run a Glue job-state event or {"run_id": ...} names, else the newest. A manifest with no
files (the run had nothing new), or a lake with no run yet, sends nothing (status NOTHING_TO_LOAD).

Event (anything else in it, such as EventBridge's scheduled-event fields, is ignored):
  {}                                       the load batch, for the newest run
  {"run_id": "jr_..."}                     the load batch, for that run (a backfill run, say)
  {"statements": ["23_copy_trades", ...]}  only those load statements (file names without .sql), in
                                           file order, as one batch; a setup statement is refused

Environment (set by the CDK construct):
  CLUSTER_ID         the Redshift cluster identifier
  DATABASE           the database to run in
  DB_USER            the loader's database user, with temporary credentials that the Data API gets
                     for it (redshift:GetClusterCredentials): no stored password
  CURATED_BUCKET     the lake's curated bucket (placeholder ${CURATED_BUCKET}; where manifests are)
  COPY_ROLE_ARN      placeholder ${COPY_ROLE_ARN}: the role COPY reads the lake with
  LOAD_MANIFEST_PREFIX  where the ETL runs' manifests are in CURATED_BUCKET (_quality/<job name>/)
Only those two names are substituted into SQL (never the rest of the environment, which holds
the function's credentials), and ${LOAD_MANIFEST}, the manifest's s3:// URL; a placeholder
without a value fails the run, naming it.

Any failure raises, so the invocation fails and the stack's alarm on Lambda errors fires.
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

from redshift_loader_manifest import LoadManifest, ManifestError, S3Manifests
from redshift_loader_run import (
    SAFETY_MARGIN_SECONDS,
    ConfigError,
    LoadError,
    LoadResult,
    Timing,
    load_target,
    run_phases,
)
from redshift_loader_sql import LOAD, SETUP, SqlFileError, load_statements, select_statements, sql_files

SERVICE = "redshift-loader"
logger = Logger(service=SERVICE)

SQL_FOLDER = Path(__file__).resolve().parent / "sql"
PLACEHOLDER_VARIABLES = ("CURATED_BUCKET", "COPY_ROLE_ARN")
NOTHING_TO_LOAD = "NOTHING_TO_LOAD"
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

# Indirections the tests replace.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


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
                          ' (SQL file names without .sql), e.g. ["23_copy_trades"]')
    return [name.strip().removesuffix(".sql") for name in names]


# Fills ${LOAD_MANIFEST} when there is nothing to copy; the load statements are then not sent.
NO_MANIFEST = "s3://nothing-to-load/none.manifest"


def load(event: Any, environ: Mapping[str, str], *, client, sql_folder: Path, budget_seconds: float,
         clock: Callable[[], float], sleep: Callable[[float], None], log=None,
         manifests: S3Manifests | None = None) -> tuple[LoadResult, LoadManifest | None]:
    """Everything the handler does, with its collaborators passed in: the load's outcome and the
    manifest it copied (None: nothing to copy, so nothing was sent)."""
    target = load_target(environ)
    names = requested_statements(event)
    if not Path(sql_folder).is_dir():
        raise ConfigError(f"no SQL folder {sql_folder}: the CDK construct copies sql/redshift into the"
                          " function's asset as sql/")
    try:
        setup = sorted({path.stem for phase, path in sql_files(sql_folder) if phase == SETUP} & set(names or ()))
    except SqlFileError as error:
        raise ConfigError(str(error)) from None
    if setup:
        raise ConfigError(f"{', '.join(setup)}: setup statements run at deploy, as the admin, by the setup"
                          " function (a custom resource); the loader runs only the load batch")
    try:
        manifest = manifests.for_event(event) if manifests is not None else None
    except ManifestError as error:
        raise ConfigError(str(error)) from None
    copying = manifest is not None and manifest.files > 0
    variables = {**placeholder_values(environ), "LOAD_MANIFEST": manifest.url if copying else NO_MANIFEST}
    try:
        statements = select_statements(load_statements(sql_folder, variables, phases=(LOAD,)), names)
    except SqlFileError as error:
        raise ConfigError(str(error)) from None
    if log is not None:
        log.info("load planned", extra={"manifest": manifest.as_dict() if manifest else None,
                                        "statements": [s.name for s in statements] if copying else []})
    if not copying:   # no run yet, or it wrote nothing: the warehouse stays as it is
        return LoadResult(None, NOTHING_TO_LOAD, (), 0.0, 0), None
    timing = Timing(deadline=clock() + budget_seconds - SAFETY_MARGIN_SECONDS, clock=clock, sleep=sleep)
    return run_phases(client, target, statements, timing=timing, log=log), manifest


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    budget = context.get_remaining_time_in_millis() / 1000
    try:
        if isinstance(event, Mapping) and ("RequestType" in event or "streaming" in event):
            raise ConfigError("the setup function (redshift_setup.handler) runs the setup statements, streaming"
                              " included; the loader runs only the load batch")
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
