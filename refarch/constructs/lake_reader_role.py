"""The role a Redshift cluster assumes to COPY from the lake and to query it with Spectrum."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from refarch.constructs.nag import acknowledge_resource


class LakeReaderRole(Construct):
    """Read the given prefixes of one bucket and the tables of one Glue database; nothing else."""

    def __init__(self, scope: Construct, id: str, *, bucket_name: str, prefixes: Sequence[str],
                 key: kms.IKey, database: str) -> None:
        super().__init__(scope, id)
        if not prefixes or any(not p.endswith("/") or p.startswith("/") for p in prefixes):
            raise ValueError(f"LakeReaderRole prefixes={list(prefixes)!r}: like ['trades/']")
        stack = Stack.of(self)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("redshift.amazonaws.com"),
                             description="Redshift: COPY from the curated lake, Spectrum over its catalog")
        bucket_arn = f"arn:{stack.partition}:s3:::{bucket_name}"
        objects = [f"{bucket_arn}/{prefix}*" for prefix in prefixes]
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=objects))
        # Only ListBucket carries s3:prefix; GetBucketLocation under that condition would never match.
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))
        tables = stack.format_arn(service="glue", resource="table", resource_name=f"{database}/*")
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                     "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"],
            resources=[stack.format_arn(service="glue", resource="catalog"),
                       stack.format_arn(service="glue", resource="database", resource_name=database),
                       tables]))
        for arn in objects:
            acknowledge_resource(self.role, arn, "COPY and Spectrum read every object of this lake "
                                 "prefix; the objects are named per partition and run")
        acknowledge_resource(self.role, tables, "Spectrum reads any table of this one lake database "
                             "(the catalog names them); no write actions are granted")
