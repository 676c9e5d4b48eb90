"""The warehouse's admin-only SQL, run at deploy: schema, tables, the Spectrum schema, and the
loader's own database user with exactly the grants its load needs.

A setup function (the loader's code asset with its own handler, `handler`, and
its own role, which may get Data API credentials for the admin user only) runs the SQL folder's
setup/ statements through the Data API, behind a custom resource (CDK's provider framework, so
a failed statement fails the deploy). Create and Update run them (they are idempotent); the
properties carry a hash of the setup SQL, so an edited setup file runs again on the next deploy.
Delete changes nothing. The same function runs other stacks' streaming setup (`function`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import custom_resources as cr
from constructs import Construct

from refarch.constructs.checkov import DLQ, skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge_resource
from refarch.constructs.provider_framework import acknowledge_provider_framework
from refarch.constructs.python_function import PythonFunction
from refarch.constructs.warehouse import DB_USER_NAME, STATEMENT_CALLS_REASON, Warehouse

RESOURCE_TYPE = "Custom::RedshiftWarehouseSetup"


def setup_sql_hash(sql_folder: Path) -> str:
    """A hash of the setup statements (names and text): a changed file changes the custom resource."""
    digest = hashlib.sha256()
    for path in sorted((Path(sql_folder) / "setup").glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class WarehouseSetup(Construct):
    def __init__(self, scope: Construct, id: str, *, warehouse: Warehouse, source: Path, sql_folder: Path,
                 copy_role: iam.IRole, spectrum_role: iam.IRole, lake_database: str, key: kms.IKey,
                 vpc: ec2.IVpc, log_retention_days: int, removal_policy: RemovalPolicy,
                 powertools_layer_version: str, loader_user: str = "refarch_loader",
                 handler: str = "redshift_setup.handler") -> None:
        super().__init__(scope, id)
        # No '$' (DB_USER_NAME allows it): the setup substitutes the name into its SQL, whose values
        # may hold only SQL-literal-safe characters, so such a name would fail at deploy, not here.
        if not DB_USER_NAME.fullmatch(loader_user) or "$" in loader_user or loader_user == warehouse.admin_user:
            raise ValueError(f"WarehouseSetup loader_user={loader_user!r}: allowed a Redshift user name (lower-case "
                             f"letters, digits and _) other than the admin user {warehouse.admin_user!r}")
        if not list((Path(sql_folder) / "setup").glob("*.sql")):
            raise ValueError(f"WarehouseSetup sql_folder={sql_folder}: no setup/*.sql to run")
        self.loader_user = loader_user
        setup = PythonFunction(
            self, "Function", source=source, handler=handler, extra_folders={"sql": sql_folder},
            key=key, log_retention_days=log_retention_days, removal_policy=removal_policy,
            powertools_layer_version=powertools_layer_version, timeout=Duration.minutes(15),
            reserved_concurrency=1,   # the admin's DDL (this stack's and other stacks' setups) one at a time
            vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            environment={"CLUSTER_ID": warehouse.cluster_identifier, "DATABASE": warehouse.database,
                         "DB_USER": warehouse.admin_user})
        self.function = setup.function
        self.role = setup.role
        # One statement at a time (no batch); it reads the rows of its skip-if guards.
        for statement in warehouse.data_api_statements(db_user=warehouse.admin_user, submit=["ExecuteStatement"],
                                                        read_results=True):
            self.role.add_to_principal_policy(statement)
        acknowledge_resource(self.role, "*", STATEMENT_CALLS_REASON)
        skip_check(self.function, DLQ, "The provider framework invokes it synchronously at deploy and reports a "
                   "failure as a failed deployment; a DLQ would hold nothing to act on")

        self.log_group = encrypted_log_group(self, "ProviderLogs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        self.provider = cr.Provider(self, "Provider", on_event_handler=self.function, log_group=self.log_group)
        self.resource = CustomResource(self, "Resource", service_token=self.provider.service_token,
                                       resource_type=RESOURCE_TYPE, properties={
            "Warehouse": {"LOADER_USER": loader_user, "COPY_ROLE_ARN": copy_role.role_arn,
                          "SPECTRUM_ROLE_ARN": spectrum_role.role_arn, "LAKE_DATABASE": lake_database},
            "SqlHash": setup_sql_hash(sql_folder)})
        self.resource.node.add_dependency(warehouse.cluster)   # the cluster must accept SQL first
        acknowledge_provider_framework(self.provider, handler_arn=self.function.function_arn,
                                       handler="the one setup function")
