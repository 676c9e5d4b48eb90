"""Reachability gate: everything in the isolated VPC can reach every AWS service it calls.

The VPC has no route out: compute placed in it reaches AWS only through the baseline's
gateway endpoints (S3, DynamoDB) and interface endpoints. A missing endpoint passes every
other gate and then times out in the deployed function. So, for every resource of a
synthesized template that is placed in the VPC, this gate collects the AWS services it
calls from inside the VPC and reports each one the baseline has no endpoint for.

What a resource calls, from its template:

- the action prefixes of its role's policy statements (the Lambda function's `Role`, the
  Flink application's `ServiceExecutionRole`, the roles a Redshift cluster assumes);
- plus what the service itself calls from the VPC (`SERVICE_CALLS`).

Calls that do not leave the VPC from the resource itself are not counted, by these rules:

1. KMS on a caller's behalf: SQS, SNS, Kinesis, DynamoDB, S3, Secrets Manager, Firehose and
   CloudWatch Logs encrypt server-side and call KMS themselves, from the service. A role's
   KMS statements count only when the role calls none of those (or when a `kms:ViaService`
   condition says otherwise: such a statement is always on a service's behalf).
2. Credentials the Redshift Data API fetches on its caller's behalf (the secret of
   `SecretArn`, temporary database credentials) when the role calls the Data API.
3. Lambda delivers a function's logs itself (`logs:CreateLogGroup`, `CreateLogStream`,
   `PutLogEvents`), outside the VPC.
4. Lambda polls a function's event sources (stream, queue) and sends to its failure
   destinations itself: statements whose every resource is one of those are the service's.
5. Attaching to the VPC (EC2 network-interface calls, by Lambda and Managed Flink) happens
   from the service, before the resource is in the VPC.
6. Requests to an OpenSearch domain that is itself in the VPC (`es:ESHttp*` on that domain's
   paths) go to the domain's own network interfaces there, not to an endpoint.

Two kinds of resource are placed in the VPC only to be reached or to reach one destination
there, and call nothing else from it: an OpenSearch domain (it encrypts with KMS and
publishes its logs from the service) and a Firehose delivery stream delivering into the VPC
(it reads its source, backs up to S3 and logs from the service; its network interfaces only
carry documents to the destination, which must be reachable, not an endpoint).

A resource in the VPC that this gate cannot classify (an unknown type, a role it cannot
see, a service prefix with no known endpoint) is a finding too: a gate that guessed would
let the next stack break the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Endpoint names as the `interface_endpoints` setting spells them, by the suffix of the
# endpoint's service name (com.amazonaws.<region>.<suffix>).
ENDPOINT_BY_SERVICE_NAME = {
    "s3": "s3", "dynamodb": "dynamodb", "kinesis-streams": "kinesis-streams",
    "kinesis-firehose": "firehose", "kms": "kms", "logs": "logs", "monitoring": "monitoring",
    "sts": "sts", "sns": "sns", "sqs": "sqs", "glue": "glue", "athena": "athena",
    "secretsmanager": "secretsmanager", "redshift": "redshift", "redshift-data": "redshift-data",
    "ssm": "ssm", "events": "events", "lambda": "lambda", "ecr.api": "ecr.api", "ecr.dkr": "ecr.dkr",
}
GATEWAY_ENDPOINTS = ("s3", "dynamodb")
# IAM action prefix -> the endpoint its API is reached through.
ENDPOINT_BY_ACTION_PREFIX = {
    "s3": "s3", "dynamodb": "dynamodb", "kinesis": "kinesis-streams", "firehose": "firehose",
    "kms": "kms", "logs": "logs", "cloudwatch": "monitoring", "sts": "sts", "sns": "sns",
    "sqs": "sqs", "glue": "glue", "athena": "athena", "secretsmanager": "secretsmanager",
    "redshift": "redshift", "redshift-data": "redshift-data", "ssm": "ssm", "events": "events",
    "lambda": "lambda", "ecr": "ecr.api",
}
# Rule 1: services that call KMS themselves for the data they encrypt.
ENCRYPTS_ON_CALLERS_BEHALF = ("sqs", "sns", "kinesis", "dynamodb", "s3", "secretsmanager",
                              "firehose", "logs")
# Rule 2: actions the Redshift Data API performs with its caller's permissions.
DATA_API_FETCHES = ("secretsmanager:getsecretvalue", "redshift:getclustercredentials",
                    "redshift:getclustercredentialswithiam", "redshift-serverless:getcredentials")
# Rule 3.
LAMBDA_LOG_DELIVERY = ("logs:createloggroup", "logs:createlogstream", "logs:putlogevents")
# Rule 5: the AWS-managed policies Lambda uses to attach a function and deliver its logs,
# and the resources whose service makes the network-interface calls itself.
LAMBDA_SERVICE_POLICIES = ("AWSLambdaVPCAccessExecutionRole", "AWSLambdaBasicExecutionRole")
ATTACHED_BY_THE_SERVICE = ("AWS::Lambda::Function", "AWS::KinesisAnalyticsV2::Application")

# What the service itself calls from inside the VPC, beyond its role's statements.
SERVICE_CALLS: dict[str, dict[str, str]] = {
    "AWS::Lambda::Function": {},
    "AWS::KinesisAnalyticsV2::Application": {
        "logs": "Managed Flink writes the job's log stream from the application's subnets",
        "monitoring": "Managed Flink publishes the job's metrics from the application's subnets",
        "s3": "Managed Flink in a VPC reaches S3 through it, as it does Kinesis and CloudWatch",
    },
    "AWS::Redshift::Cluster": {
        "s3": "with enhanced VPC routing, COPY, UNLOAD and Spectrum read and write S3 through the VPC",
    },
    "AWS::OpenSearchService::Domain": {},
    "AWS::KinesisFirehose::DeliveryStream": {},
}
# Types that sit in the VPC without calling anything themselves (network plumbing).
PLACEMENT_ONLY = ("AWS::Redshift::ClusterSubnetGroup", "AWS::RDS::DBSubnetGroup",
                  "AWS::ElastiCache::SubnetGroup", "AWS::DAX::SubnetGroup")
_VPC_KEYS = ("VpcConfig", "VpcConfiguration", "VpcConfigurations", "VPCOptions", "VpcOptions",
             "SubnetIds", "ClusterSubnetGroupName", "DBSubnetGroupName", "CacheSubnetGroupName")


@dataclass(frozen=True)
class Unreachable:
    """`resource` calls `service` from the VPC, and the baseline has no `endpoint` endpoint."""

    resource: str
    service: str
    endpoint: str | None   # None: no known endpoint for the service, or the resource is unclassified
    why: str

    @property
    def detail(self) -> str:
        if self.endpoint is None:
            return f"in the VPC, {self.why}"
        kind = "gateway" if self.endpoint in GATEWAY_ENDPOINTS else "interface"
        return (f"calls {self.service} from the isolated VPC ({self.why}), but the baseline has "
                f"no {kind} endpoint {self.endpoint!r}")

    @property
    def message(self) -> str:
        return f"{self.resource} {self.detail}"


@dataclass
class VpcResource:
    logical_id: str
    kind: str
    calls: dict[str, str] = field(default_factory=dict)   # endpoint -> why
    problems: list[str] = field(default_factory=list)


def baseline_endpoints(template: Mapping[str, Any]) -> set[str]:
    """The endpoint names (as settings spell them) of the VPC endpoints in `template`."""
    found = set()
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::EC2::VPCEndpoint":
            continue
        name = _render(resource["Properties"]["ServiceName"])
        match = re.match(r"^com\.amazonaws\.[^.]+\.(.+)$", name)
        if match and match.group(1) in ENDPOINT_BY_SERVICE_NAME:
            found.add(ENDPOINT_BY_SERVICE_NAME[match.group(1)])
    return found


def unreachable(template: Mapping[str, Any], endpoints: Iterable[str],
                paths: Mapping[str, str] | None = None) -> list[Unreachable]:
    """Every (resource in the VPC, service it calls) without an endpoint in `endpoints`."""
    endpoints, paths = set(endpoints), paths or {}
    found = []
    for resource in vpc_resources(template):
        where = paths.get(resource.logical_id, resource.logical_id)
        found += [Unreachable(where, "unknown", None, problem) for problem in resource.problems]
        found += [Unreachable(where, service, service, why)
                  for service, why in sorted(resource.calls.items()) if service not in endpoints]
    return found


def endpoints_called(template: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{logical id of each resource in the VPC: {endpoint it needs: why}}."""
    return {r.logical_id: r.calls for r in vpc_resources(template)}


def vpc_resources(template: Mapping[str, Any]) -> list[VpcResource]:
    resources = template.get("Resources", {})
    placed = []
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type", ""), resource.get("Properties", {})
        if kind.startswith("AWS::EC2::") or kind in PLACEMENT_ONLY or not _in_vpc(kind, props):
            continue
        entry = VpcResource(logical_id, kind)
        if kind not in SERVICE_CALLS:
            entry.problems.append(f"the reachability gate does not know what {kind} calls; "
                                  "describe it in refarch/reachability.py")
        else:
            entry.calls.update(SERVICE_CALLS[kind])
            if kind == "AWS::Redshift::Cluster" and not props.get("EnhancedVpcRouting"):
                entry.calls.pop("s3", None)
            for role in _roles_of(kind, props):
                _add_role_calls(entry, resources, role, logical_id)
        placed.append(entry)
    return placed


def _in_vpc(kind: str, props: Mapping[str, Any]) -> bool:
    if kind == "AWS::Lambda::Function":
        return bool(props.get("VpcConfig", {}).get("SubnetIds"))
    return _has_vpc_key(props)


def _has_vpc_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in _VPC_KEYS or _has_vpc_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_vpc_key(v) for v in value)
    return False


def _roles_of(kind: str, props: Mapping[str, Any]) -> list[Any]:
    if kind == "AWS::Lambda::Function":
        return [props.get("Role")]
    if kind == "AWS::KinesisAnalyticsV2::Application":
        return [props.get("ServiceExecutionRole")]
    if kind == "AWS::Redshift::Cluster":
        return list(props.get("IamRoles", []))
    return []


def _add_role_calls(entry: VpcResource, resources: Mapping[str, Any], role: Any, owner: str) -> None:
    role_id = _local_role(role, resources)
    if role_id is None:
        entry.problems.append(f"its role {json.dumps(role)} is not in this template, so what it "
                              "calls cannot be checked")
        return
    statements, managed = _role_policies(resources, role_id)
    is_lambda = entry.kind == "AWS::Lambda::Function"
    for arn in managed:
        name = _render(arn).rsplit("/", 1)[-1]
        if not (is_lambda and name in LAMBDA_SERVICE_POLICIES):
            entry.problems.append(f"its role uses managed policy {name}, whose actions this gate cannot see")
    allowed = [s for s in statements if s.get("Effect") == "Allow"]
    service_owned = _lambda_service_resources(resources, owner) if is_lambda else set()
    prefixes = {a.split(":", 1)[0].lower() for s in allowed for a in _actions(s)}
    for statement in allowed:
        if _resources_key(statement) <= service_owned and service_owned:
            continue  # rule 4
        via_service = "kms:ViaService" in json.dumps(statement.get("Condition", {}))
        for action in _actions(statement):
            lowered = action.lower()
            prefix = lowered.split(":", 1)[0]
            if prefix == "kms" and (via_service or set(ENCRYPTS_ON_CALLERS_BEHALF) & prefixes):
                continue  # rule 1
            if lowered in DATA_API_FETCHES and "redshift-data" in prefixes:
                continue  # rule 2
            if is_lambda and lowered in LAMBDA_LOG_DELIVERY:
                continue  # rule 3
            if prefix == "ec2" and entry.kind in ATTACHED_BY_THE_SERVICE and _attaches(lowered):
                continue  # rule 5
            if lowered.startswith("es:eshttp") and _on_vpc_domains(statement, resources):
                continue  # rule 6
            endpoint = ENDPOINT_BY_ACTION_PREFIX.get(prefix)
            if endpoint is None:
                entry.problems.append(f"it may call {action}, and no VPC endpoint is known for {prefix}")
                continue
            entry.calls.setdefault(endpoint, f"its role allows {action}")


def _on_vpc_domains(statement: Mapping[str, Any], resources: Mapping[str, Any]) -> bool:
    """Every resource of the statement is a path of an OpenSearch domain in this VPC's template."""
    domains = {r["Properties"].get("DomainName") for r in resources.values()
               if r.get("Type") == "AWS::OpenSearchService::Domain" and "VPCOptions" in r.get("Properties", {})}
    targets = [_render(r) for r in (statement.get("Resource") if isinstance(statement.get("Resource"), list)
                                    else [statement.get("Resource")])]
    return bool(targets) and all(any(isinstance(d, str) and f":domain/{d}/" in t for d in domains) for t in targets)


def _attaches(action: str) -> bool:
    return action.removeprefix("ec2:").startswith(("createnetworkinterface", "deletenetworkinterface",
                                                   "describe"))


def _local_role(role: Any, resources: Mapping[str, Any]) -> str | None:
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        logical_id = role["Fn::GetAtt"][0]
        if resources.get(logical_id, {}).get("Type") == "AWS::IAM::Role":
            return logical_id
    return None


def _role_policies(resources: Mapping[str, Any], role_id: str) -> tuple[list[dict], list[Any]]:
    role = resources[role_id].get("Properties", {})
    statements = [s for p in role.get("Policies", []) for s in _statements(p.get("PolicyDocument", {}))]
    managed = list(role.get("ManagedPolicyArns", []))
    for resource in resources.values():
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and \
                {"Ref": role_id} in resource.get("Properties", {}).get("Roles", []):
            statements += _statements(resource["Properties"].get("PolicyDocument", {}))
    return statements, managed


def _lambda_service_resources(resources: Mapping[str, Any], function_id: str) -> set[str]:
    """Event sources Lambda polls for the function and destinations it sends to itself."""
    owned = set()
    for resource in resources.values():
        props = resource.get("Properties", {})
        if props.get("FunctionName") != {"Ref": function_id}:
            continue
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping":
            owned.add(json.dumps(props.get("EventSourceArn"), sort_keys=True))
        if resource.get("Type") in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
            for outcome in props.get("DestinationConfig", {}).values():
                owned.add(json.dumps(outcome.get("Destination"), sort_keys=True))
    return owned


def _resources_key(statement: Mapping[str, Any]) -> set[str]:
    resource = statement.get("Resource", [])
    return {json.dumps(r, sort_keys=True) for r in (resource if isinstance(resource, list) else [resource])}


def _statements(document: Mapping[str, Any]) -> list[dict]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _actions(statement: Mapping[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _render(value: Any) -> str:
    """A string from a literal or an Fn::Join of literals and pseudo-parameters."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"]
    return json.dumps(value)
