"""Builds the CDK app: the stacks selected by settings, wired to the baseline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from refarch.config import Settings, settings_from_context
from refarch.constructs.checkov import skip_cdk_provider_checks
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.nag import acknowledge_cdk_providers
from refarch.monitoring import monitor_data_path
from refarch.constructs.provider_logs import log_cdk_providers
from refarch.paths import PROJECT_ROOT
from refarch.patterns import BASELINE, stack_name
from refarch.stacks.adtech import AdTechStack
from refarch.stacks.batch_data_lake import BatchDataLakeStack
from refarch.stacks.firehose_parquet import FirehoseParquetStack
from refarch.stacks.iot_telemetry import IotTelemetryStack
from refarch.stacks.redshift_warehouse import RedshiftWarehouseStack
from refarch.stacks.streaming_log import StreamingLogStack
from refarch.stacks.security_baseline import SecurityBaselineStack


def cdk_json_context() -> dict[str, Any]:
    """The context block of cdk.json (feature flags and setting defaults)."""
    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def build_stacks(app: App, settings: Settings) -> dict[str, Stack]:
    """Add the selected pattern stacks to `app`; the baseline is always built first."""
    env = Environment(account=settings.account, region=settings.region)

    def name(pattern: str) -> str:
        return stack_name(settings.stage, pattern)

    baseline = SecurityBaselineStack(
        app, BASELINE, stack_name=name(BASELINE), env=env,
        settings=settings.baseline, retain_data=settings.retains_data,
        termination_protection=settings.retains_data,  # prod: deleting the baseline takes two steps
        description="refarch: KMS keys, isolated VPC, endpoints, flow logs, access logs, CloudTrail")
    stacks: dict[str, Stack] = {BASELINE: baseline}
    shared = dict(env=env, data_key=baseline.data_key, retain_data=settings.retains_data)

    if "IotTelemetry" in settings.patterns:
        stacks["IotTelemetry"] = IotTelemetryStack(
            app, "IotTelemetry", stack_name=name("IotTelemetry"), settings=settings.iot,
            vpc=baseline.vpc, access_logs=baseline.access_logs_bucket,
            log_retention_days=settings.baseline.log_retention_days,
            powertools_layer_version=settings.powertools_layer_version,
            description="refarch: IoT Core -> Kinesis -> Lambda -> DynamoDB with alerts", **shared)
    if "FirehoseParquet" in settings.patterns:
        stacks["FirehoseParquet"] = FirehoseParquetStack(
            app, "FirehoseParquet", stack_name=name("FirehoseParquet"),
            access_logs=baseline.access_logs_bucket,
            log_retention_days=settings.baseline.log_retention_days,
            powertools_layer_version=settings.powertools_layer_version,
            database_name=settings.firehose.database, buffer_mb=settings.firehose.buffer_mb,
            first_log_date=settings.firehose.first_log_date, backup_days=settings.firehose.backup_days,
            description="refarch: Firehose -> Lambda transform -> Parquet on S3 with a Glue schema",
            **shared)
    if "BatchDataLake" in settings.patterns:
        stacks["BatchDataLake"] = BatchDataLakeStack(
            app, "BatchDataLake", stack_name=name("BatchDataLake"), settings=settings.lake,
            access_logs=baseline.access_logs_bucket,
            description="refarch: S3 zones -> Glue crawler and Spark ETL -> Athena", **shared)
    if "RedshiftWarehouse" in settings.patterns:
        lake = stacks["BatchDataLake"]  # selected with it (patterns.REQUIRES)
        stacks["RedshiftWarehouse"] = RedshiftWarehouseStack(
            app, "RedshiftWarehouse", stack_name=name("RedshiftWarehouse"), settings=settings.warehouse,
            vpc=baseline.vpc, curated_bucket=lake.storage.curated_bucket_name,
            lake_database=settings.lake.database, lake_job=lake.job.name,
            log_retention_days=settings.baseline.log_retention_days,
            powertools_layer_version=settings.powertools_layer_version,
            description="refarch: private Redshift loaded from the lake, with Spectrum", **shared)
        stacks["RedshiftWarehouse"].add_stack_dependency(lake, "COPY and Spectrum read the lake's bucket and catalog")
    if "StreamingLogAnalytics" in settings.patterns:
        warehouse = stacks["RedshiftWarehouse"]   # selected with it (patterns.REQUIRES), as the lake is
        azs = settings.baseline.azs if isinstance(settings.baseline.azs, int) else len(settings.baseline.azs)
        stacks["StreamingLogAnalytics"] = StreamingLogStack(
            app, "StreamingLogAnalytics", stack_name=name("StreamingLogAnalytics"), settings=settings.clickstream,
            stage=settings.stage, azs=azs, vpc=baseline.vpc, access_logs=baseline.access_logs_bucket,
            warehouse=warehouse, workgroup=stacks["BatchDataLake"].athena.name,
            log_retention_days=settings.baseline.log_retention_days,
            powertools_layer_version=settings.powertools_layer_version,
            description="refarch: websites -> API -> Kinesis -> Flink SQL -> lake, OpenSearch, Redshift",
            **shared)
        stacks["StreamingLogAnalytics"].add_stack_dependency(
            warehouse, "Redshift streaming ingestion uses the warehouse's role and setup function")
    if "AdTech" in settings.patterns:
        stacks["AdTech"] = AdTechStack(
            app, "AdTech", stack_name=name("AdTech"), settings=settings.adtech, vpc=baseline.vpc,
            log_retention_days=settings.baseline.log_retention_days,
            powertools_layer_version=settings.powertools_layer_version,
            description="refarch: ad events -> Flink SQL CTR -> placement rankings -> placement API", **shared)

    for stack in stacks.values():
        acknowledge_cdk_providers(stack)
        skip_cdk_provider_checks(stack)
        monitor_data_path(stack)  # after the stack is complete: it finds what to watch
        log_cdk_providers(stack, key=baseline.data_key, retention_days=settings.baseline.log_retention_days,
                          removal_policy=removal_policy(retain=settings.retains_data))
        Tags.of(stack).add("project", "refarch")
        Tags.of(stack).add("stage", settings.stage)
    return stacks


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None,
              environ: Mapping[str, str] | None = None, nag_on_synth: bool = False
              ) -> tuple[App, Settings, dict[str, Stack]]:
    """Build the app for `context` (overrides on top of cdk.json).

    With `nag_on_synth`, cdk-nag runs as a policy-validation plugin, so `app.synth()`
    (and therefore `cdk synth` / `cdk deploy`) fails on any unacknowledged finding.
    """
    full_context = {**cdk_json_context(), **(context or {})}
    settings = settings_from_context(full_context, environ)
    app = App(context=full_context, outdir=outdir)
    stacks = build_stacks(app, settings)
    if nag_on_synth:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, settings, stacks
