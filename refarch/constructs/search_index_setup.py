"""Applies an index template and an ISM policy to an OpenSearch domain at deploy.

A function in the domain's VPC (the domain has no public endpoint) is the domain's
fine-grained-access-control master: its role is the IAM master role. A custom resource
(CDK's provider framework, which answers CloudFormation from outside the VPC) invokes it on
every deploy whose index settings changed: ISM policy, index template with an explicit
mapping, the first index behind the write alias, and the writer role mapped to the IAM role
that delivers documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import custom_resources as cr
from constructs import Construct

from refarch.constructs.checkov import CONCURRENCY, DLQ, skip_check
from refarch.constructs.logs import encrypted_log_group
from refarch.constructs.nag import acknowledge_resource
from refarch.constructs.provider_framework import acknowledge_provider_framework
from refarch.constructs.python_function import PythonFunction

# What Firehose needs on the index (AWS's documented permissions for fine-grained access control).
WRITER_CLUSTER_PERMISSIONS = ("cluster_composite_ops", "cluster_monitor")
WRITER_INDEX_PERMISSIONS = ("crud", "create_index", "manage")


def index_template(alias: str, mapping: Mapping[str, Any], *, shards: int, replicas: int) -> dict[str, Any]:
    return {"index_patterns": [f"{alias}-*"], "priority": 100, "template": {
        "settings": {"number_of_shards": shards, "number_of_replicas": replicas,
                     "plugins.index_state_management.rollover_alias": alias},
        "mappings": dict(mapping)}}


def ism_policy(alias: str, *, retention_days: int, rollover_gb: int = 30) -> dict[str, Any]:
    """Roll the write index over daily (or at rollover_gb per primary shard); delete an index
    retention_days after it was created."""
    return {"policy": {
        "description": f"{alias}: roll over daily, delete after {retention_days} days",
        "default_state": "hot",
        "states": [
            {"name": "hot", "actions": [{"rollover": {"min_index_age": "1d",
                                                      "min_primary_shard_size": f"{rollover_gb}gb"}}],
             "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{retention_days}d"}}]},
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []}],
        "ism_template": [{"index_patterns": [f"{alias}-*"], "priority": 100}]}}


def writer_role(alias: str) -> dict[str, Any]:
    return {"cluster_permissions": list(WRITER_CLUSTER_PERMISSIONS),
            "index_permissions": [{"index_patterns": [f"{alias}*"],
                                   "allowed_actions": list(WRITER_INDEX_PERMISSIONS)}]}


class SearchIndexSetup(Construct):
    """`role` is the domain's master role: create this first, the domain with it, then `apply`."""

    def __init__(self, scope: Construct, id: str, *, vpc: ec2.IVpc, key: kms.IKey, domain_name: str,
                 source: Path, log_retention_days: int, removal_policy: RemovalPolicy,
                 powertools_layer_version: str, handler: str = "search_index_setup.handler") -> None:
        """`source` is the setup function's code (this project's lambda/search_index_setup)."""
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.security_group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                                description="Search index setup: HTTPS to the domain")
        self.function = PythonFunction(
            self, "Function", source=source, handler=handler, key=key,
            log_retention_days=log_retention_days, removal_policy=removal_policy,
            powertools_layer_version=powertools_layer_version, timeout=Duration.minutes(2),
            vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
        self.function.function.connections.add_security_group(self.security_group)
        self.role = self.function.role
        domain_arn = stack.format_arn(service="es", resource="domain", resource_name=domain_name)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPut"], resources=[f"{domain_arn}/*"]))
        acknowledge_resource(self.role, f"{domain_arn}/*", "The paths of the one search domain (policies, "
                             "templates, indices, security roles); an OpenSearch ARN names paths, not objects")
        function = self.function.function
        skip_check(function, DLQ, "The provider framework invokes it synchronously at deploy and reports a "
                   "failure as a failed deployment; a DLQ would hold nothing to act on")
        skip_check(function, CONCURRENCY, "It runs once per deploy that changes the index settings")
        self.log_group = encrypted_log_group(self, "ProviderLogs", key=key, retention_days=log_retention_days,
                                             removal_policy=removal_policy)
        self.provider = cr.Provider(self, "Provider", on_event_handler=function, log_group=self.log_group)
        acknowledge_provider_framework(self.provider, handler_arn=self.function.function.function_arn,
                                       handler="the one setup function")

    def apply(self, *, endpoint: str, alias: str, mapping: Mapping[str, Any], shards: int, replicas: int,
              retention_days: int, writer_backend_role: str) -> CustomResource:
        template = index_template(alias, mapping, shards=shards, replicas=replicas)
        self.resource = CustomResource(self, "Apply", service_token=self.provider.service_token,
                                       resource_type="Custom::SearchIndexSetup", properties={
            "Endpoint": endpoint, "Alias": alias, "TemplateName": alias,
            "Template": json.dumps(template, sort_keys=True),
            "PolicyName": f"{alias}-retention",
            "Policy": json.dumps(ism_policy(alias, retention_days=retention_days), sort_keys=True),
            "WriterRole": f"{alias}_writer", "WriterRoleBody": json.dumps(writer_role(alias), sort_keys=True),
            "WriterBackendRole": writer_backend_role})
        return self.resource
