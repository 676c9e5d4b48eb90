"""What a deploy to LocalStack needs beyond `cdklocal deploy`.

- The CLI's environment: cdklocal 3.0.4 resolves `localhost.localstack.cloud` unless
  `AWS_ENDPOINT_URL` is set, and its path-style check reads the variable *named by*
  `AWS_S3_FORCE_PATH_STYLE` (a bug), hence the indirection below.
- The AWS-managed Powertools layer: LocalStack's free edition cannot fetch a layer from AWS,
  nor does it hold the public SSM parameter the templates resolve the layer's ARN from
  (`/aws/service/powertools/...`). So the layer is published first under the layer's own
  account, built from the Powertools release the parameter names (see `layers.py`), and the
  parameter is seeded with its ARN through the endpoint the project's LocalStack plugins add
  (AWS and LocalStack both refuse PutParameter under `/aws`).
- Bootstrap once per LocalStack: the CDKToolkit stack is created only when it is missing.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from refarch.deploy.layers import POWERTOOLS_ACCOUNT, powertools_layer_zip

DEFAULT_ENDPOINT = "http://localhost:4566"
LOCALSTACK_ACCOUNT = "000000000000"
TEST_SECRET = "test"  # LocalStack accepts any secret; the access key id selects the account
LAYER_ARN = re.compile(r"^arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
                       r"(?P<name>[A-Za-z0-9_-]+):(?P<version>\d+)$")


def endpoint_from(value: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The LocalStack endpoint: the option, else LOCALSTACK_ENDPOINT, else the default."""
    endpoint = value or environ.get("LOCALSTACK_ENDPOINT") or DEFAULT_ENDPOINT
    parsed = urllib.parse.urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"LocalStack endpoint {endpoint!r}: expected http(s)://host:port")
    return endpoint.rstrip("/")


def cli_environment(endpoint: str, region: str, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Environment for cdklocal against `endpoint`, without the caller's AWS profile."""
    environment = {key: value for key, value in base.items()
                   if not key.startswith(("AWS_", "CDK_DEFAULT_"))}
    environment.update({
        "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_S3_FORCE_PATH_STYLE": "LS_FORCE_PATH_STYLE", "LS_FORCE_PATH_STYLE": "1",
        "AWS_ACCESS_KEY_ID": TEST_SECRET, "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
    })
    return environment


def client(service: str, endpoint: str, region: str, account: str = LOCALSTACK_ACCOUNT):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=account, aws_secret_access_key=TEST_SECRET)


def is_bootstrapped(endpoint: str, region: str) -> bool:
    try:
        stacks = client("cloudformation", endpoint, region).describe_stacks(StackName="CDKToolkit")["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return False
        raise
    return any(stack["StackStatus"].endswith("_COMPLETE") and "ROLLBACK" not in stack["StackStatus"]
               for stack in stacks)


@dataclass(frozen=True)
class LayerReference:
    region: str
    account: str
    name: str
    version: int

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:layer:{self.name}:{self.version}"


def layer_references(templates: Iterable[Mapping[str, Any]], own_account: str) -> set[LayerReference]:
    """Layers of other accounts (the AWS-managed ones) that the templates' functions use."""
    found = set()
    for template in templates:
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            for layer in resource.get("Properties", {}).get("Layers", []):
                match = LAYER_ARN.match(layer) if isinstance(layer, str) else None
                if match and match["account"] != own_account:
                    found.add(LayerReference(match["region"], match["account"], match["name"],
                                             int(match["version"])))
    return found


def seed_managed_layers(references: Iterable[LayerReference], endpoint: str) -> list[str]:
    """Publish each referenced layer under its account up to its version; returns the ARNs
    that were published now (a layer already there is left alone)."""
    published = []
    for reference in sorted(references, key=lambda r: (r.account, r.name, r.version)):
        lambda_ = client("lambda", endpoint, reference.region, account=reference.account)
        versions = lambda_.list_layer_versions(LayerName=reference.name).get("LayerVersions", [])
        latest = max((v["Version"] for v in versions), default=0)
        if latest >= reference.version:
            continue
        content = powertools_layer_zip(reference.name).read_bytes()
        for _ in range(latest, reference.version):
            response = lambda_.publish_layer_version(
                LayerName=reference.name, Content={"ZipFile": content},
                Description="refarch: Powertools for AWS Lambda, as the AWS-managed layer")
        # As AWS does for its public layers: any account may use the version.
        lambda_.add_layer_version_permission(
            LayerName=reference.name, VersionNumber=response["Version"], StatementId="public",
            Action="lambda:GetLayerVersion", Principal="*")
        published.append(response["LayerVersionArn"])
    return published


def operation_seconds(cloudformation, stack_name: str) -> float | None:
    """How long CloudFormation took for the stack's latest create or update (from its events)."""
    ended = None
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack_name):
        for event in page["StackEvents"]:   # newest first
            if event["LogicalResourceId"] != stack_name or event["ResourceType"] != "AWS::CloudFormation::Stack":
                continue
            status = event["ResourceStatus"]
            if ended is None and (status.endswith("_COMPLETE") or status.endswith("_FAILED")):
                ended = event["Timestamp"]
            elif ended is not None and status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
                return round((ended - event["Timestamp"]).total_seconds(), 1)
    return None


POWERTOOLS_PARAMETER = re.compile(r"^/aws/service/powertools/python/(?P<arch>x86_64|arm64)/"
                                  r"python(?P<major>3)\.(?P<minor>\d+)/(?P<release>\d+\.\d+\.\d+)$")
PUBLIC_PARAMETERS_ROUTE = "/_refarch/public-parameters"


class SeedingFailed(Exception):
    """LocalStack cannot be given what the templates need from AWS."""


def powertools_parameters(templates: Iterable[Mapping[str, Any]]) -> set[str]:
    """The public Powertools SSM parameters the templates resolve at deploy time."""
    return {parameter["Default"] for template in templates
            for parameter in template.get("Parameters", {}).values()
            if parameter.get("Type", "").startswith("AWS::SSM::Parameter::Value")
            and POWERTOOLS_PARAMETER.match(str(parameter.get("Default", "")))}


def seed_powertools_parameters(names: Iterable[str], endpoint: str, region: str,
                               account: str = LOCALSTACK_ACCOUNT) -> list[str]:
    """For each parameter missing in LocalStack: publish the layer of its release under the
    Powertools account, and store its ARN under the parameter's name. Returns what was seeded."""
    seeded = []
    ssm = client("ssm", endpoint, region, account)
    for name in sorted(names):
        try:
            ssm.get_parameter(Name=name)
            continue
        except ClientError as error:
            if error.response["Error"]["Code"] != "ParameterNotFound":
                raise
        match = POWERTOOLS_PARAMETER.match(name)
        layer_name = f"AWSLambdaPowertoolsPythonV3-python{match['major']}{match['minor']}-{match['arch']}"
        lambda_ = client("lambda", endpoint, region, account=POWERTOOLS_ACCOUNT)
        version = lambda_.publish_layer_version(
            LayerName=layer_name, Content={"ZipFile": powertools_layer_zip(layer_name, match["release"]).read_bytes()},
            Description=f"refarch: Powertools for AWS Lambda {match['release']}, as the AWS-managed layer")
        lambda_.add_layer_version_permission(LayerName=layer_name, VersionNumber=version["Version"],
                                             StatementId="public", Action="lambda:GetLayerVersion", Principal="*")
        _store_public_parameter(endpoint, account, region, name, version["LayerVersionArn"])
        seeded.append(f"{name} = {version['LayerVersionArn']}")
    return seeded


def _store_public_parameter(endpoint: str, account: str, region: str, name: str, value: str) -> None:
    request = urllib.request.Request(
        endpoint + PUBLIC_PARAMETERS_ROUTE, method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"account": account, "region": region, "name": name, "value": value}).encode())
    try:
        with urllib.request.urlopen(request, timeout=10):
            return
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise SeedingFailed(
                f"this LocalStack cannot be given the public SSM parameter {name} (AWS publishes it; "
                "PutParameter refuses names under /aws): start LocalStack with the project's plugins "
                "(tests/localstack/plugins, installed by make localstack)") from None
        raise SeedingFailed(f"seeding {name}: LocalStack answered {error.code}: {error.read()[:200]!r}") from None
