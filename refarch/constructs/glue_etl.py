"""Glue crawler and Spark ETL job over a data lake, chained by a scheduled workflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.constructs.nag import acknowledge, acknowledge_resource

WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
GLUE_VERSION = "5.0"  # Spark 3.5, Python 3.11


class GlueSecurity(Construct):
    """A Glue security configuration: S3 output, CloudWatch logs and job bookmarks, all KMS."""

    def __init__(self, scope: Construct, id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.name = f"{Stack.of(self).stack_name}-{id}"
        self.configuration = glue.CfnSecurityConfiguration(
            self, "Configuration", name=self.name,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(
                    s3_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn)],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key.key_arn)))


def glue_role(scope: Construct, id: str, *, key: kms.IKey, database: str | None, description: str) -> iam.Role:
    """A role for Glue with its own logs and metrics, the key, and (for a crawler, which
    creates and updates tables and partitions) this database's catalog; `database=None`
    for a job that reads and writes S3 paths only and never calls the catalog."""
    stack = Stack.of(scope)
    role = iam.Role(scope, id, assumed_by=iam.ServicePrincipal("glue.amazonaws.com"), description=description)
    glue_logs = stack.format_arn(service="logs", resource="log-group", resource_name="/aws-glue/*",
                                 arn_format=ArnFormat.COLON_RESOURCE_NAME)
    role.add_to_policy(iam.PolicyStatement(
        actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
        resources=[glue_logs]))
    role.add_to_policy(iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"],
                                           conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}}))
    role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
                                           resources=[key.key_arn]))
    acknowledge(role, "IAM5[Resource::*]",
                "cloudwatch:PutMetricData has no resource type; the statement is limited to the "
                "Glue metric namespace by condition")
    acknowledge_resource(role, glue_logs, "Glue names its log groups per job run and security "
                         "configuration, always under /aws-glue/")
    if database is not None:
        _allow_catalog(role, database)
    return role


def _allow_catalog(role: iam.Role, database: str) -> None:
    stack = Stack.of(role)
    tables = stack.format_arn(service="glue", resource="table", resource_name=f"{database}/*")
    role.add_to_policy(iam.PolicyStatement(
        actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                 "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
                 "glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition",
                 "glue:BatchUpdatePartition"],
        resources=[stack.format_arn(service="glue", resource="catalog"),
                   stack.format_arn(service="glue", resource="database", resource_name=database),
                   tables]))
    acknowledge_resource(role, tables, "Crawlers create the tables they discover, so the names are "
                         "not known in advance; access stays within this one database")


class RawZoneCrawler(Construct):
    """Crawls `bucket/prefix` into `database` on a schedule, under a security configuration."""

    def __init__(self, scope: Construct, id: str, *, bucket: s3.IBucket, prefix: str, database: str,
                 key: kms.IKey, security: GlueSecurity) -> None:
        super().__init__(scope, id)
        self.role = glue_role(self, "Role", key=key, database=database,
                              description="Glue crawler: read the raw zone, write the catalog")
        bucket.grant_read(self.role, f"{prefix}*")
        _acknowledge_prefix_read(self.role, bucket, prefix)
        self.name = f"{Stack.of(self).stack_name}-{id}"
        self.crawler = glue.CfnCrawler(
            self, "Crawler", name=self.name, role=self.role.role_arn, database_name=database,
            crawler_security_configuration=security.name,
            targets=glue.CfnCrawler.TargetsProperty(s3_targets=[glue.CfnCrawler.S3TargetProperty(
                path=f"s3://{bucket.bucket_name}/{prefix}")]),
            # Raw tables get their own prefix, apart from the declared curated tables.
            table_prefix="raw_",
            # Only folders added since the last crawl: the raw zone only grows, and a nightly crawl
            # of everything would read (so pay for, and keep warm) the whole history. Glue then
            # requires LOG for both behaviours: a schema change in new files is logged, not applied
            # (run the crawler once with CRAWL_EVERYTHING to adopt one).
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="LOG", delete_behavior="LOG"),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior="CRAWL_NEW_FOLDERS_ONLY"))
        self.crawler.node.add_dependency(security.configuration)


class PartitionCrawler(Construct):
    """Registers the partitions of declared tables (catalog targets); their schemas are left
    alone. Engines that do not use partition projection (Redshift Spectrum, Spark) need
    the partitions in the catalog."""

    def __init__(self, scope: Construct, id: str, *, database: str, tables: Mapping[str, str],
                 bucket: s3.IBucket, key: kms.IKey, security: GlueSecurity) -> None:
        """`tables`: table name -> its prefix in `bucket`."""
        super().__init__(scope, id)
        self.role = glue_role(self, "Role", key=key, database=database,
                              description=f"Glue crawler: register partitions of {', '.join(tables)}")
        for prefix in tables.values():
            bucket.grant_read(self.role, f"{prefix}*")
            _acknowledge_prefix_read(self.role, bucket, prefix)
        self.name = f"{Stack.of(self).stack_name}-{id}"
        self.crawler = glue.CfnCrawler(
            self, "Crawler", name=self.name, role=self.role.role_arn,
            crawler_security_configuration=security.name,
            targets=glue.CfnCrawler.TargetsProperty(catalog_targets=[glue.CfnCrawler.CatalogTargetProperty(
                database_name=database, tables=list(tables))]),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="LOG", delete_behavior="LOG"))
        self.crawler.node.add_dependency(security.configuration)


def _acknowledge_prefix_read(role: iam.Role, bucket: s3.IBucket, prefix: str) -> None:
    acknowledge_resource(role, bucket.arn_for_objects(f"{prefix}*"),
                         "The crawler reads every object under a prefix it catalogues")
    for action, what in (("s3:GetObject*", "object reads within the crawled prefixes"),
                         ("s3:GetBucket*", "metadata of that one bucket"),
                         ("s3:List*", "listing that one bucket")):
        acknowledge(role, f"IAM5[Action::{action}]", f"CDK's read grant: {what} only")


class SparkEtlJob(Construct):
    """A Glue 5.0 Spark job whose script is an asset, with logs and metrics.

    Job bookmarks are off: a bookmark only works for a script that reads through Glue's
    DynamicFrame API with a transformation context, so for a plain Spark script the template
    would promise an incremental run the job does not get. An incremental script keeps its own
    record (as jobs/glue/trades_etl.py does) or is given `bookmarks=True` when it uses them."""

    def __init__(self, scope: Construct, id: str, *, script: Path, key: kms.IKey,
                 security: GlueSecurity, arguments: Mapping[str, str], worker_type: str = "G.1X",
                 workers: int = 2, timeout_minutes: int = 60, max_retries: int = 1,
                 bookmarks: bool = False) -> None:
        super().__init__(scope, id)
        if worker_type not in WORKER_TYPES:
            raise ValueError(f"SparkEtlJob worker_type={worker_type!r}: allowed {', '.join(WORKER_TYPES)}")
        if not 2 <= workers <= 299:
            raise ValueError(f"SparkEtlJob workers={workers!r}: allowed 2 to 299")
        if not script.is_file():
            raise ValueError(f"SparkEtlJob script={script}: no such file")
        # The script reads and writes S3 paths with plain Spark: no catalog calls, so no catalog grant.
        self.role = glue_role(self, "Role", key=key, database=None,
                              description="Glue ETL job: read raw, write curated")
        self.script = assets.Asset(self, "Script", path=str(script))
        # The one script object, not the whole bootstrap asset bucket.
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[self.script.bucket.arn_for_objects(self.script.s3_object_key)]))
        self.name = f"{Stack.of(self).stack_name}-{id}"
        self.job = glue.CfnJob(
            self, "Job", name=self.name, role=self.role.role_arn, glue_version=GLUE_VERSION,
            command=glue.CfnJob.JobCommandProperty(name="glueetl", python_version="3",
                                                   script_location=self.script.s3_object_url),
            worker_type=worker_type, number_of_workers=workers, timeout=timeout_minutes,
            max_retries=max_retries, security_configuration=security.name,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            default_arguments={
                "--job-bookmark-option": "job-bookmark-enable" if bookmarks else "job-bookmark-disable",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                **arguments,
            })
        self.job.node.add_dependency(security.configuration)


class ScheduledCrawlThenEtl(Construct):
    """A Glue workflow: crawl on a schedule, then run the job when the crawl succeeds."""

    def __init__(self, scope: Construct, id: str, *, crawler: RawZoneCrawler, job: SparkEtlJob,
                 schedule: str, after_job: PartitionCrawler | None = None) -> None:
        super().__init__(scope, id)
        if not (schedule.startswith("cron(") and schedule.endswith(")")):
            raise ValueError(f"ScheduledCrawlThenEtl schedule={schedule!r}: a Glue cron(...) expression")
        self.workflow = glue.CfnWorkflow(self, "Workflow", name=f"{Stack.of(self).stack_name}-{id}",
                                         description="Crawl the raw zone, then curate it", max_concurrent_runs=1)
        self.start = glue.CfnTrigger(
            self, "Schedule", type="SCHEDULED", schedule=schedule, start_on_creation=True,
            workflow_name=self.workflow.ref,
            actions=[glue.CfnTrigger.ActionProperty(crawler_name=crawler.name)])
        self.after_crawl = glue.CfnTrigger(
            self, "AfterCrawl", type="CONDITIONAL", start_on_creation=True, workflow_name=self.workflow.ref,
            predicate=glue.CfnTrigger.PredicateProperty(conditions=[glue.CfnTrigger.ConditionProperty(
                crawler_name=crawler.name, crawl_state="SUCCEEDED", logical_operator="EQUALS")]),
            actions=[glue.CfnTrigger.ActionProperty(job_name=job.name)])
        for trigger in (self.start, self.after_crawl):
            trigger.node.add_dependency(crawler.crawler)
        self.after_crawl.node.add_dependency(job.job)
        if after_job is not None:  # e.g. register the partitions the job just wrote
            self.after_etl = glue.CfnTrigger(
                self, "AfterEtl", type="CONDITIONAL", start_on_creation=True, workflow_name=self.workflow.ref,
                predicate=glue.CfnTrigger.PredicateProperty(conditions=[glue.CfnTrigger.ConditionProperty(
                    job_name=job.name, state="SUCCEEDED", logical_operator="EQUALS")]),
                actions=[glue.CfnTrigger.ActionProperty(crawler_name=after_job.name)])
            self.after_etl.node.add_dependency(job.job)
            self.after_etl.node.add_dependency(after_job.crawler)


class GlueFailureNotices(Construct):
    """Failed, timed-out or stopped job runs and failed crawls notify `topic`.

    Glue reports run outcomes as EventBridge events, not as CloudWatch metrics, so the
    failure path of a scheduled workflow is a rule rather than an alarm.

    EventBridge publishes through a role of this construct: granting the events service
    instead would add a statement to the topic key's policy, which belongs to whoever owns
    the key (the baseline), and would make that policy depend on this construct.
    """

    def __init__(self, scope: Construct, id: str, *, topic: sns.ITopic, jobs: Sequence[str],
                 crawlers: Sequence[str]) -> None:
        super().__init__(scope, id)
        publisher = iam.Role(self, "Publisher", assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                             description="EventBridge: publish Glue failure notices to the ops topic")
        acknowledge(publisher, "IAM5[Action::kms:GenerateDataKey*]",
                    "The topic's publish grant (CDK's) names the GenerateDataKey family, on the topic's "
                    "one key: SNS needs it to encrypt each notice")
        self.job_failures = events.Rule(self, "JobFailures", event_pattern=events.EventPattern(
            source=["aws.glue"], detail_type=["Glue Job State Change"],
            detail={"jobName": list(jobs), "state": ["FAILED", "TIMEOUT", "STOPPED", "ERROR"]}),
            targets=[targets.SnsTopic(topic, role=publisher)])
        self.crawl_failures = events.Rule(self, "CrawlFailures", event_pattern=events.EventPattern(
            source=["aws.glue"], detail_type=["Glue Crawler State Change"],
            detail={"crawlerName": list(crawlers), "state": ["Failed"]}),
            targets=[targets.SnsTopic(topic, role=publisher)])
