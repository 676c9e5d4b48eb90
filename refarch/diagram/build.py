"""Build one stack's `DataPath` from the synthesized templates (see graph.py for the rules)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from refarch.diagram.graph import (
    CONNECTED_TYPES, NODE_TYPES, PROPERTY_LABELS, ROLE_PROPERTIES, SOURCE, TRANSPARENT_TYPES, DataPath, Edge, Node, NodeId, Templates,
    _IGNORED_SERVICES, _WRITE_VERBS, is_node, label,
)

# Node types whose data edges come from their role (IAM) and connectors, not their properties:
# a function's environment names the table it writes and the queue it reads alike.
_IAM_DRIVEN = {"AWS::Lambda::Function", "AWS::Glue::Job", "AWS::Glue::Crawler", "AWS::KinesisAnalyticsV2::Application"}


def build_data_path(templates: Templates, stack: str) -> DataPath:
    path = DataPath(stack)
    resources = templates.templates[stack]["Resources"]
    for logical_id in resources:
        node = NodeId(stack, logical_id)
        if is_node(templates, node):
            _add_node(path, templates, node)
    builder = _Builder(templates, path)
    builder.connectors()
    builder.properties()
    builder.permissions()
    return path


def _add_node(path: DataPath, templates: Templates, node: NodeId) -> None:
    if node in path.nodes:
        return
    kind, what = {**NODE_TYPES, **CONNECTED_TYPES}[templates.type_of(node)]
    path.nodes[node] = Node(node, kind, what, label(node.logical_id))


class _Builder:
    def __init__(self, templates: Templates, path: DataPath) -> None:
        self.t, self.path, self.stack = templates, path, path.stack
        self.resources = templates.templates[self.stack]["Resources"]
        self.shared_users: dict[tuple[NodeId, str], set[NodeId]] = defaultdict(set)

    def _of_type(self, *types: str):
        return [(NodeId(self.stack, k), r) for k, r in self.resources.items() if r["Type"] in types]

    def refs(self, value: Any, *, names: bool = True) -> list[NodeId]:
        return sorted(set(self.t.references(self.stack, value, names=names)))

    def edge(self, source: NodeId, target: NodeId, label: str = "", style: str = "data") -> None:
        # The first edge between two nodes wins: connectors (with their labels) come first.
        if source == target or any(e.source == source and e.target == target for e in self.path.edges):
            return
        for end in (source, target):
            if end.stack != self.stack or CONNECTED_TYPES.get(self.t.type_of(end)):
                _add_node(self.path, self.t, end)
        self.path.edges.add(Edge(source, target, label, style))

    def connectors(self) -> None:
        for _, esm in self._of_type("AWS::Lambda::EventSourceMapping"):
            props = esm["Properties"]
            for function in self.refs(props.get("FunctionName")):
                for source in self.refs(props.get("EventSourceArn")):
                    self.edge(source, function, "records")
                for queue in self.refs(props.get("DestinationConfig", {}).get("OnFailure")):
                    self.edge(function, queue, "on failure", "failure")
        for _, config in self._of_type("AWS::Lambda::EventInvokeConfig"):
            props = config["Properties"]
            for function in self.refs(props.get("FunctionName")):
                for queue in self.refs(props.get("DestinationConfig", {}).get("OnFailure")):
                    self.edge(function, queue, "on failure", "failure")
        for trigger_id, trigger in self._of_type("AWS::Glue::Trigger"):
            props = trigger["Properties"]
            actions = self.refs(props.get("Actions"))
            if props.get("Type") == "SCHEDULED":
                self.path.nodes[trigger_id] = Node(trigger_id, "source", f"Glue schedule {props.get('Schedule', '')}",
                                                   label(trigger_id.logical_id))
                starts = [trigger_id]
            else:
                starts = self.refs(props.get("Predicate"))
            for start in starts:
                for action in actions:
                    self.edge(start, action, "then")
        for _, query in self._of_type("AWS::Athena::NamedQuery"):
            props = query["Properties"]
            for database in self.refs(props.get("Database")):
                for workgroup in self.refs(props.get("WorkGroup")):
                    self.edge(database, workgroup, "named queries")
        for _, method in self._of_type("AWS::ApiGateway::Method"):   # e.g. a Lambda proxy integration
            props = method["Properties"]
            for api in self.refs(props.get("RestApiId"), names=False):
                for target in self.refs(props.get("Integration", {}).get("Uri")):
                    if is_node(self.t, target):
                        self.edge(api, target, "requests")
        for _, flow_log in self._of_type("AWS::EC2::FlowLog"):
            props = flow_log["Properties"]
            for source in self.refs(props.get("ResourceId")):
                for sink in self.refs([props.get("LogDestination"), props.get("LogGroupName")]):
                    self.edge(source, sink, "flow logs")
        for rule_id, rule in self._of_type("AWS::Events::Rule"):
            if not is_node(self.t, rule_id):
                continue
            props = rule["Properties"]
            for source in self.refs(props.get("EventPattern")):
                self.edge(source, rule_id, "state change")
            for target in props.get("Targets", []):
                for node in self.refs(target.get("Arn")):
                    self.edge(rule_id, node)
                for queue in self.refs(target.get("DeadLetterConfig")):
                    self.edge(rule_id, queue, "undeliverable", "failure")
        for _, alarm in self._of_type("AWS::CloudWatch::Alarm"):
            for topic in self.refs(alarm["Properties"].get("AlarmActions")):
                self.path.alarms[topic] = self.path.alarms.get(topic, 0) + 1
        endpoints = []
        for _, endpoint in self._of_type("AWS::EC2::VPCEndpoint"):
            service = _service_suffix(endpoint["Properties"].get("ServiceName"))
            if service:
                endpoints.append(service)
        self.path.endpoints = tuple(sorted(endpoints))

    def properties(self) -> None:
        for node_id in [n for n in self.path.nodes if n.stack == self.stack]:
            resource = self.resources.get(node_id.logical_id)
            if resource is None or resource["Type"] == "AWS::Events::Rule":   # a connector, above
                continue
            for how, value in _leaves(resource.get("Properties", {}), None):
                for target in self._resolved(self.refs(value)):
                    self._property_edge(node_id, resource["Type"], how, target)
        for (target, how), users in self.shared_users.items():
            self.path.shared[(target, how)] = len(users)

    def _resolved(self, targets: list[NodeId], depth: int = 0) -> list[NodeId]:
        """Targets, with transparent resources (subnets, security groups) replaced by theirs."""
        found = []
        for target in targets:
            if self.t.type_of(target) in TRANSPARENT_TYPES and depth < 3:
                inner = sorted(set(self.t.references(target.stack, self.t.resource(target).get("Properties", {}),
                                                     names=False)))
                found += self._resolved(inner, depth + 1)
            else:
                found.append(target)
        return found

    def _property_edge(self, node: NodeId, node_type: str, labelled: str | None, target: NodeId) -> None:
        target_type = self.t.type_of(target)
        if not is_node(self.t, target) or target_type == "AWS::Events::Rule":
            return
        how = {"AWS::KMS::Key": "encrypted with", "AWS::EC2::VPC": "in the VPC"}.get(target_type) or labelled
        if how is None and node_type in _IAM_DRIVEN:
            return
        if how == SOURCE:   # e.g. a delivery stream reading a Kinesis stream
            self.edge(target, node)
            return
        style = "support" if how in ("encrypted with", "in the VPC", "access logs") else "data"
        if style == "support" and target.stack != self.stack:
            _add_node(self.path, self.t, target)
            self.shared_users[(target, how)].add(node)   # drawn once per stack, with a count
            return
        self.edge(node, target, how or "", style)

    def permissions(self) -> None:
        owners = self._role_owners()
        for _, policy in self._of_type("AWS::IAM::Policy"):
            props = policy["Properties"]
            users = [owner for role in self.refs(props.get("Roles"), names=False) for owner in owners.get(role, [])]
            if not users:
                continue
            for statement in props.get("PolicyDocument", {}).get("Statement", []):
                direction = _direction(statement.get("Action"))
                if direction is None or statement.get("Effect") != "Allow":
                    continue
                for target in self.refs(statement.get("Resource")):
                    if not is_node(self.t, target) or self.t.type_of(target) == "AWS::KMS::Key":
                        continue
                    for user in users:
                        source, sink = (user, target) if direction == "write" else (target, user)
                        if not any(e.source == sink and e.target == source for e in self.path.edges):
                            self.edge(source, sink)

    def _role_owners(self) -> dict[NodeId, list[NodeId]]:
        owners: dict[NodeId, list[NodeId]] = defaultdict(list)
        for node_id in [n for n in self.path.nodes if n.stack == self.stack]:
            resource = self.resources.get(node_id.logical_id, {})
            for _, value in _leaves(resource.get("Properties", {}), None, roles_only=True):
                for target in self.refs(value, names=False):
                    if target.stack == self.stack and self.t.type_of(target) == "AWS::IAM::Role":
                        owners[target].append(node_id)
        # An API Gateway method's AWS integration acts with its credentials role for its API.
        for _, method in self._of_type("AWS::ApiGateway::Method"):
            props = method["Properties"]
            for api in self.refs(props.get("RestApiId"), names=False):
                for role in self.refs(props.get("Integration", {}).get("Credentials"), names=False):
                    if self.t.type_of(role) == "AWS::IAM::Role" and api in self.path.nodes:
                        owners[role].append(api)
        return owners


_INTRINSICS = ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput", "Fn::Join", "Fn::Sub", "Fn::Select")


def _leaves(value: Any, how: str | None, *, roles_only: bool = False, in_role: bool = False):
    """(label, value) for every reference or string under `value`; the label is that of the
    innermost property in PROPERTY_LABELS. With `roles_only`, only values under a role property."""
    if isinstance(value, dict) and not any(key in value for key in _INTRINSICS):
        for key, item in value.items():
            yield from _leaves(item, PROPERTY_LABELS.get(key, how), roles_only=roles_only,
                               in_role=in_role or key in ROLE_PROPERTIES)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, how, roles_only=roles_only, in_role=in_role)
    elif in_role or not roles_only:
        yield how, value


def _direction(actions: Any) -> str | None:
    """`write` if any action changes data, `read` if any reads it; None for key/log/network calls."""
    actions = [actions] if isinstance(actions, str) else list(actions or [])
    verbs = [a.split(":", 1) for a in actions if ":" in a]
    verbs = [verb for service, verb in verbs if service not in _IGNORED_SERVICES]
    if not verbs:
        return None
    return "write" if any(verb.startswith(_WRITE_VERBS) for verb in verbs) else "read"


def _service_suffix(value: Any) -> str | None:
    """`com.amazonaws.<region>.kinesis-streams`, literal or joined around the region -> `kinesis-streams`."""
    if isinstance(value, str):
        match = re.fullmatch(r"com\.amazonaws\.[a-z0-9-]+\.(.+)", value)
        return match.group(1) if match else None
    parts = value["Fn::Join"][1] if isinstance(value, dict) and "Fn::Join" in value else []
    last = parts[-1] if parts else None
    return last.lstrip(".") if isinstance(last, str) and last.startswith(".") else None
