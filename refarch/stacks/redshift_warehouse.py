"""RedshiftWarehouse: private, encrypted Redshift loaded from the curated lake, with Spectrum."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from refarch.config import WarehouseSettings
from refarch.constructs.alarms import ops_topic
from refarch.constructs.checkov import DLQ, skip_check
from refarch.constructs.lake_reader_role import LakeReaderRole
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.nag import acknowledge_resource
from refarch.constructs.python_function import PythonFunction
from refarch.constructs.scheduled_function import ScheduledFunction
from refarch.constructs.warehouse import STATEMENT_CALLS_REASON, Warehouse
from refarch.constructs.warehouse_setup import WarehouseSetup
from refarch.constructs.outputs import add_outputs
from refarch.paths import LAMBDA_ROOT, SQL_ROOT

LAKE_PREFIXES = ("trades/", "trades_rejected/")
MANIFESTS = "_quality/"   # BatchDataLake's QUALITY_PREFIX: each ETL run's COPY manifest is under <it><job>/


class RedshiftWarehouseStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: WarehouseSettings, data_key: kms.IKey,
                 vpc: ec2.IVpc, curated_bucket: str, lake_database: str, lake_job: str, retain_data: bool,
                 log_retention_days: int, powertools_layer_version: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)
        manifests = f"{MANIFESTS}{lake_job}/"   # COPY reads the manifest with the same role as the files
        self.lake_role = LakeReaderRole(self, "LakeReader", bucket_name=curated_bucket,
                                        prefixes=(*LAKE_PREFIXES, manifests), key=data_key,
                                        database=lake_database).role
        # Redshift streaming ingestion reads Kinesis with this role. It holds no permission here:
        # each stack whose stream the warehouse ingests grants it read on exactly that stream.
        self.streaming_role = iam.Role(self, "StreamingIngestion",
                                       assumed_by=iam.ServicePrincipal("redshift.amazonaws.com"),
                                       description="Redshift streaming ingestion: read the streams granted to it")
        isolated = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.warehouse = Warehouse(
            self, "Warehouse", vpc=vpc, key=data_key, node_type=settings.node_type, nodes=settings.nodes,
            database=settings.database, roles=[self.lake_role, self.streaming_role],
            client_cidrs=[subnet.ipv4_cidr_block for subnet in isolated.subnets], port=settings.port,
            snapshot_retention_days=settings.snapshot_retention_days,
            log_retention_days=log_retention_days, removal_policy=removal, alarm_topic=self.ops_topic)

        # The admin runs the DDL and creates the loader's user with its grants, at deploy; the
        # loader then runs only the load batch, as that user.
        self.setup = WarehouseSetup(
            self, "Setup", warehouse=self.warehouse, source=LAMBDA_ROOT / "redshift_loader",
            sql_folder=SQL_ROOT / "redshift", copy_role=self.lake_role, spectrum_role=self.lake_role,
            lake_database=lake_database, key=data_key, vpc=vpc, log_retention_days=log_retention_days,
            removal_policy=removal, powertools_layer_version=powertools_layer_version)
        loader = PythonFunction(
            self, "Loader", source=LAMBDA_ROOT / "redshift_loader", handler="redshift_loader.handler",
            extra_folders={"sql": SQL_ROOT / "redshift"}, key=data_key,
            log_retention_days=log_retention_days, removal_policy=removal,
            powertools_layer_version=powertools_layer_version, timeout=Duration.minutes(15),
            reserved_concurrency=1,  # one load at a time: two would merge the same partitions
            vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            environment={
                "CLUSTER_ID": self.warehouse.cluster_identifier, "DATABASE": settings.database,
                "DB_USER": self.setup.loader_user,
                "CURATED_BUCKET": curated_bucket, "COPY_ROLE_ARN": self.lake_role.role_arn,
                "LOAD_MANIFEST_PREFIX": manifests,
            })
        self.loader = loader.function
        # Deployed StreamingLogAnalytics stacks of the previous release import the loader's ARN by this
        # name (they now import the setup function's); CloudFormation refuses to drop an export in use.
        self.export_value(self.loader.function_arn, name=f"{self.stack_name}-LoaderFunctionArn")
        add_outputs(self, {"LoaderFunctionName": self.loader.function_name,
                           "SetupFunctionName": self.setup.function.function_name,
                           "ClusterIdentifier": self.warehouse.cluster_identifier,
                           "DatabaseName": settings.database})
        skip_check(self.loader, DLQ, "Its asynchronous invocations have an on-failure destination "
                   "(the ScheduledFunction's encrypted queue, with an alarm), which supersedes a function DLQ")
        # The load batch only (one transaction), as the loader's user: no admin credentials.
        for statement in self.warehouse.data_api_statements(db_user=self.setup.loader_user,
                                                            submit=["BatchExecuteStatement"]):
            loader.role.add_to_principal_policy(statement)
        acknowledge_resource(loader.role, "*", STATEMENT_CALLS_REASON)
        self._grant_manifests(loader.role, curated_bucket, manifests, data_key)
        # By default a load follows each successful run of the lake's ETL job, so it never
        # copies partitions the job is still rewriting; a cron setting loads on a clock instead.
        after_etl = settings.load_trigger == "after-etl"
        self.trigger = ScheduledFunction(
            self, "Load", function=self.loader, key=data_key, alarm_topic=self.ops_topic,
            schedule=None if after_etl else settings.load_trigger,
            event_pattern=events.EventPattern(source=["aws.glue"], detail_type=["Glue Job State Change"],
                                              detail={"jobName": [lake_job], "state": ["SUCCEEDED"]})
            if after_etl else None)
        self.trigger.node.add_dependency(self.setup.resource)   # no load before its user and tables exist

    def _grant_manifests(self, role: iam.IRole, bucket_name: str, prefix: str, key: kms.IKey) -> None:
        """The loader reads which files an ETL run wrote (its manifest) before it loads them."""
        bucket_arn = f"arn:{self.partition}:s3:::{bucket_name}"
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"],
                                                         resources=[f"{bucket_arn}/{prefix}*"]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))   # finding the newest manifest
        key.grant(role, "kms:Decrypt")
        acknowledge_resource(role, f"{bucket_arn}/{prefix}*", "The loader reads the manifest of whichever "
                             "ETL run it loads; manifests are named by run id under this one prefix")
