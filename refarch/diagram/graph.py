"""A stack's data path as a graph, read from the synthesized templates.

Nodes are the resources data passes through (sources, streams, functions and jobs,
stores, sinks). Edges come from the references between resources:

- connectors: event source mappings, async failure destinations, Glue triggers, Athena
  named queries, flow logs and EventBridge rules say who feeds whom;
- IAM: a role's statements say what the function, job or service it belongs to reads
  (data flows in) or writes (data flows out);
- properties: a delivery stream, topic rule or trail names the resources it writes to.

References are `Ref`/`Fn::GetAtt`, cross-stack outputs (`Fn::ImportValue` or
`Fn::GetStackOutput`, both resolved to the exporting stack's resource) and the literal
names of named resources (Glue jobs and databases, delivery streams, clusters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# type -> (kind, what it is); kind picks the shape in the diagram
NODE_TYPES = {
    "AWS::IoT::TopicRule": ("source", "IoT topic rule"),
    "AWS::ApiGateway::RestApi": ("source", "API Gateway REST API"),
    "AWS::Events::Rule": ("source", "EventBridge rule"),
    "AWS::Kinesis::Stream": ("stream", "Kinesis stream"),
    "AWS::KinesisFirehose::DeliveryStream": ("stream", "Firehose delivery stream"),
    "AWS::SQS::Queue": ("stream", "SQS queue"),
    "AWS::SNS::Topic": ("stream", "SNS topic"),
    "AWS::Lambda::Function": ("compute", "Lambda function"),
    "AWS::Glue::Job": ("compute", "Glue job"),
    "AWS::Glue::Crawler": ("compute", "Glue crawler"),
    "AWS::KinesisAnalyticsV2::Application": ("compute", "Managed Flink application"),
    "AWS::Athena::WorkGroup": ("compute", "Athena workgroup"),
    "AWS::CloudTrail::Trail": ("compute", "CloudTrail trail"),
    "AWS::S3::Bucket": ("store", "S3 bucket"),
    "AWS::DynamoDB::Table": ("store", "DynamoDB table"),
    "AWS::Glue::Database": ("store", "Glue database"),
    "AWS::Redshift::Cluster": ("store", "Redshift cluster"),
    "AWS::OpenSearchService::Domain": ("store", "OpenSearch domain"),
    "AWS::KMS::Key": ("key", "KMS key"),
    "AWS::EC2::VPC": ("network", "VPC"),
}
# Types that are nodes only when a connector names them (every function has a log group).
CONNECTED_TYPES = {"AWS::Logs::LogGroup": ("store", "CloudWatch log group")}
# Resources whose references count as their users' (a Redshift subnet group's subnets).
TRANSPARENT_TYPES = {"AWS::Redshift::ClusterSubnetGroup", "AWS::EC2::SecurityGroup", "AWS::EC2::Subnet"}
# aws-cdk-lib's own deploy-time functions are not part of any data path.
CDK_PROVIDER_PREFIXES = ("CustomS3AutoDeleteObjects", "CustomVpcRestrictDefaultSG", "AWS679f53fac002430cb0da5b7982bd2287")
SOURCE = "<source>"  # a property naming where the resource reads from: the edge points in
# Properties whose references are named on the edge.
PROPERTY_LABELS = {"LoggingConfiguration": "access logs", "ErrorAction": "errors",
                   "SchemaConfiguration": "schema", "ProcessingConfiguration": "transform",
                   "KinesisStreamSourceConfiguration": SOURCE}
# Properties through which a resource names the IAM role it acts with.
ROLE_PROPERTIES = {"Role", "RoleArn", "RoleARN", "ServiceExecutionRole", "IamRoles"}
NAME_PROPERTIES = {
    "AWS::Glue::Job": ("Name",), "AWS::Glue::Crawler": ("Name",), "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Redshift::Cluster": ("ClusterIdentifier",), "AWS::KinesisFirehose::DeliveryStream": ("DeliveryStreamName",),
    "AWS::Lambda::Function": ("FunctionName",), "AWS::KinesisAnalyticsV2::Application": ("ApplicationName",),
    "AWS::S3::Bucket": ("BucketName",), "AWS::DynamoDB::Table": ("TableName",), "AWS::Kinesis::Stream": ("Name",),
    "AWS::SQS::Queue": ("QueueName",), "AWS::SNS::Topic": ("TopicName",),
    "AWS::OpenSearchService::Domain": ("DomainName",),
}
_WRITE_VERBS = ("Put", "BatchWrite", "Write", "Send", "Publish", "Create", "Update", "Delete", "Execute", "ESHttpP", "ESHttpDelete",
                "BatchExecute", "Start", "Invoke", "Abort")
_IGNORED_SERVICES = {"kms", "logs", "ec2", "cloudwatch", "xray", "sts", "secretsmanager"}
_HEX_SUFFIX = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True, order=True)
class NodeId:
    stack: str
    logical_id: str


@dataclass(frozen=True)
class Node:
    id: NodeId
    kind: str
    what: str
    name: str


@dataclass(frozen=True, order=True)
class Edge:
    source: NodeId
    target: NodeId
    label: str = ""
    style: str = "data"    # data, failure or support (keys, network, logs)


@dataclass
class DataPath:
    stack: str
    nodes: dict[NodeId, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    # (another stack's key, VPC or log bucket, how) -> how many of this stack's nodes use it
    shared: dict[tuple[NodeId, str], int] = field(default_factory=dict)
    alarms: dict[NodeId, int] = field(default_factory=dict)   # topic -> alarms notifying it
    endpoints: tuple[str, ...] = ()


def label(logical_id: str) -> str:
    """`TelemetryStream5198B67A` -> `TelemetryStream`: the construct path without CDK's hash."""
    return _HEX_SUFFIX.sub("", logical_id) or logical_id


class Templates:
    """Every stack's template, with the cross-stack outputs and literal names resolved."""

    def __init__(self, templates: Mapping[str, dict[str, Any]], stack_names: Mapping[str, str]) -> None:
        self.templates = dict(templates)
        self.exports: dict[str, NodeId] = {}
        self.outputs: dict[tuple[str, str], NodeId] = {}
        self.names: dict[str, NodeId] = {}
        by_stack_name = {stack_names[stack]: stack for stack in templates}
        self.by_stack_name = by_stack_name
        for stack, template in templates.items():
            for output_name, output in template.get("Outputs", {}).items():
                target = self._local(stack, output.get("Value"))
                if target is None:
                    continue
                self.outputs[(stack_names[stack], output_name)] = target
                export = output.get("Export", {}).get("Name")
                if isinstance(export, str):
                    self.exports[export] = target
            for logical_id, resource in template.get("Resources", {}).items():
                name = _literal_name(resource)
                if name:
                    self.names[name] = NodeId(stack, logical_id)

    def resource(self, node: NodeId) -> dict[str, Any]:
        return self.templates[node.stack]["Resources"][node.logical_id]

    def type_of(self, node: NodeId) -> str:
        return self.resource(node)["Type"]

    def _local(self, stack: str, value: Any) -> NodeId | None:
        if isinstance(value, dict) and "Ref" in value:
            return NodeId(stack, value["Ref"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return NodeId(stack, value["Fn::GetAtt"][0])
        return None

    def references(self, stack: str, value: Any, *, names: bool = True) -> Iterator[NodeId]:
        """Every resource `value` (part of `stack`'s template) refers to, in any stack."""
        resources = self.templates[stack]["Resources"]
        if isinstance(value, dict):
            local = self._local(stack, value)
            if local is not None and local.logical_id in resources:
                yield local
                return
            if "Fn::ImportValue" in value and value["Fn::ImportValue"] in self.exports:
                yield self.exports[value["Fn::ImportValue"]]
                return
            if "Fn::GetStackOutput" in value:
                spec = value["Fn::GetStackOutput"]
                found = self.outputs.get((spec.get("StackName"), spec.get("OutputName")))
                if found is not None:
                    yield found
                return
            for item in value.values():
                yield from self.references(stack, item, names=names)
        elif isinstance(value, list):
            for item in value:
                yield from self.references(stack, item, names=names)
        elif isinstance(value, str) and names:
            for token in re.split(r"[/:\s,]", value):
                if token in self.names:
                    yield self.names[token]


def _literal_name(resource: dict[str, Any]) -> str | None:
    path = NAME_PROPERTIES.get(resource.get("Type"))
    value: Any = resource.get("Properties", {})
    for key in path or ():
        value = value.get(key) if isinstance(value, dict) else None
    return value if path and isinstance(value, str) and len(value) >= 6 else None


def is_node(templates: Templates, node: NodeId) -> bool:
    resource = templates.templates[node.stack]["Resources"].get(node.logical_id)
    if (resource is None or resource["Type"] not in NODE_TYPES or node.logical_id.startswith(CDK_PROVIDER_PREFIXES)
            or "Providerframework" in node.logical_id):   # custom-resources' provider framework
        return False
    # A rule without targets leads nowhere (the dashboards' rules only count events).
    return resource["Type"] != "AWS::Events::Rule" or bool(resource.get("Properties", {}).get("Targets"))
