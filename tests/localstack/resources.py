"""Is each resource of a deployed stack really there? One existence check per resource type.

CloudFormation in LocalStack can report CREATE_COMPLETE for a resource it did not create: with
CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES it accepts a type it has no provider for as a no-op
("not supported but was deployed as a fallback"). So the deploy test asks the service itself
for every resource, except the types listed in NO_OP_FALLBACKS, each with the reason; the test
also fails when that list is stale (a listed type deployed for real, or is no longer used).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

FALLBACK_MARK = "not supported but was deployed as a fallback"

GLUE = "LocalStack's free edition has no Glue: crawlers, jobs, workflows and the catalog run on AWS only"
NO_OP_FALLBACKS: dict[str, str] = {
    "AWS::Athena::NamedQuery": "LocalStack's free edition has no Athena",
    "AWS::Athena::WorkGroup": "LocalStack's free edition has no Athena",
    "AWS::CloudTrail::Trail": "LocalStack's free edition has no CloudFormation provider for CloudTrail trails",
    "AWS::CloudWatch::Dashboard": "LocalStack's free edition has no CloudFormation provider for dashboards",
    "AWS::EC2::FlowLog": "LocalStack's free edition has no CloudFormation provider for VPC flow logs",
    "AWS::Glue::Crawler": GLUE,
    "AWS::Glue::Database": GLUE,
    "AWS::Glue::Job": GLUE,
    "AWS::Glue::SecurityConfiguration": GLUE,
    "AWS::Glue::Table": GLUE,
    "AWS::Glue::Trigger": GLUE,
    "AWS::Glue::Workflow": GLUE,
    "AWS::IoT::TopicRule": "LocalStack's free edition has no IoT Core",
    "AWS::KinesisAnalyticsV2::Application": "LocalStack's free edition has no Managed Service for Apache Flink",
    "AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption":
        "LocalStack's free edition has no Managed Service for Apache Flink",
    "AWS::Redshift::ClusterParameterGroup": "LocalStack's free edition has no CloudFormation provider for it "
                                            "(the cluster itself is created)",
    "AWS::Redshift::ClusterSubnetGroup": "LocalStack's free edition has no CloudFormation provider for it "
                                         "(the cluster itself is created)",
    "Custom::AWS": "LocalStack's free edition has no custom-resource provider, so CDK's provider "
                   "functions are created but never invoked",
    "Custom::S3AutoDeleteObjects": "LocalStack's free edition has no custom-resource provider",
    "Custom::VpcRestrictDefaultSG": "LocalStack's free edition has no custom-resource provider",
    "Custom::SearchIndexSetup": "LocalStack's free edition has no custom-resource provider (and moto's OpenSearch "
                                "no index API): the index setup's requests are proven by its handler's tests",
    "Custom::RedshiftStreamingSetup": "LocalStack's free edition has no custom-resource provider (and its Redshift "
                                      "no SQL engine): the streaming SQL is proven on DuckDB",
    "Custom::RedshiftWarehouseSetup": "LocalStack's free edition has no custom-resource provider (and its Redshift "
                                      "no SQL engine): the setup SQL is proven on DuckDB, its users and grants against "
                                      "the load SQL (tests/sql/test_redshift_grants.py), its calls by the setup "
                                      "function's Stubber tests",
    "AWS::EC2::SecurityGroupEgress": "LocalStack's free edition has no CloudFormation provider for a stand-alone "
                                     "security-group rule (the groups themselves are created)",
    "AWS::EC2::SecurityGroupIngress": "LocalStack's free edition has no CloudFormation provider for a stand-alone "
                                      "security-group rule (the groups themselves are created)",
    "AWS::Logs::ResourcePolicy": "LocalStack's free edition has no CloudFormation provider for CloudWatch Logs "
                                 "resource policies (OpenSearch's log delivery)",
}
# CloudFormation bookkeeping: no physical resource on AWS either.
NOT_RESOURCES = {"AWS::CDK::Metadata"}


@dataclass(frozen=True)
class DeployedResource:
    stack: str
    logical_id: str
    type: str
    physical_id: str
    properties: Mapping[str, Any]


class Resolver:
    """Resolves the references a template's properties use to deployed names."""

    def __init__(self, physical: Mapping[str, str], exports: Mapping[str, str]) -> None:
        self.physical, self.exports = physical, exports

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref":
                return self.physical[argument]
            if function == "Fn::GetAtt":  # services here take the name wherever they take the ARN
                return self.physical[argument[0]]
            if function == "Fn::ImportValue":
                return self.exports[argument]
            if function == "Fn::Select":
                index, values = argument
                return self(values)[int(index)]
            if function == "Fn::Split":
                separator, text = argument
                return self(text).split(separator)
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


Check = Callable[[Any, DeployedResource, Resolver], bool]


def _policy_statements(document: str | None) -> list:
    return json.loads(document)["Statement"] if document else []


CHECKS: dict[str, tuple[str, Check]] = {
    # type: (service, check(client, resource, resolve) -> exists)
    "AWS::KMS::Key": ("kms", lambda c, r, _: c.describe_key(KeyId=r.physical_id)["KeyMetadata"]["Enabled"]),
    "AWS::KMS::Alias": ("kms", lambda c, r, _: any(a["AliasName"] == r.physical_id
                                                   for a in c.list_aliases()["Aliases"])),
    "AWS::S3::Bucket": ("s3", lambda c, r, _: c.head_bucket(Bucket=r.physical_id) is not None),
    "AWS::S3::BucketPolicy": ("s3", lambda c, r, res: bool(_policy_statements(
        c.get_bucket_policy(Bucket=res(r.properties["Bucket"]))["Policy"]))),
    "AWS::IAM::Role": ("iam", lambda c, r, _: c.get_role(RoleName=r.physical_id)["Role"]["RoleName"] == r.physical_id),
    "AWS::IAM::Policy": ("iam", lambda c, r, res: all(
        c.get_role_policy(RoleName=role, PolicyName=r.properties["PolicyName"])["PolicyDocument"]
        for role in res(r.properties.get("Roles", [])))),
    "AWS::Lambda::Function": ("lambda", lambda c, r, _: c.get_function(FunctionName=r.physical_id)[
        "Configuration"]["State"] == "Active"),
    "AWS::Lambda::EventSourceMapping": ("lambda", lambda c, r, _: c.get_event_source_mapping(
        UUID=r.physical_id)["State"] in ("Enabled", "Enabling", "Creating")),
    "AWS::Lambda::EventInvokeConfig": ("lambda", lambda c, r, res: "DestinationConfig" in c.get_function_event_invoke_config(
        FunctionName=res(r.properties["FunctionName"]), Qualifier=r.properties.get("Qualifier", "$LATEST"))),
    "AWS::Lambda::Permission": ("lambda", lambda c, r, res: bool(_policy_statements(
        c.get_policy(FunctionName=res(r.properties["FunctionName"]))["Policy"]))),
    "AWS::EC2::VPC": ("ec2", lambda c, r, _: len(c.describe_vpcs(VpcIds=[r.physical_id])["Vpcs"]) == 1),
    "AWS::EC2::Subnet": ("ec2", lambda c, r, _: len(c.describe_subnets(SubnetIds=[r.physical_id])["Subnets"]) == 1),
    "AWS::EC2::RouteTable": ("ec2", lambda c, r, _: len(c.describe_route_tables(
        RouteTableIds=[r.physical_id])["RouteTables"]) == 1),
    "AWS::EC2::SubnetRouteTableAssociation": ("ec2", lambda c, r, _: len(c.describe_route_tables(Filters=[
        {"Name": "association.route-table-association-id", "Values": [r.physical_id]}])["RouteTables"]) == 1),
    "AWS::EC2::VPCEndpoint": ("ec2", lambda c, r, _: len(c.describe_vpc_endpoints(
        VpcEndpointIds=[r.physical_id])["VpcEndpoints"]) == 1),
    "AWS::EC2::SecurityGroup": ("ec2", lambda c, r, _: len(c.describe_security_groups(
        GroupIds=[r.physical_id])["SecurityGroups"]) == 1),
    "AWS::Logs::LogGroup": ("logs", lambda c, r, _: any(g["logGroupName"] == r.physical_id for g in c.describe_log_groups(
        logGroupNamePrefix=r.physical_id)["logGroups"])),
    "AWS::Logs::LogStream": ("logs", lambda c, r, res: any(s["logStreamName"] == r.physical_id for s in c.describe_log_streams(
        logGroupName=res(r.properties["LogGroupName"]), logStreamNamePrefix=r.physical_id)["logStreams"])),
    "AWS::SNS::Topic": ("sns", lambda c, r, _: c.get_topic_attributes(TopicArn=r.physical_id)["Attributes"][
        "TopicArn"] == r.physical_id),
    "AWS::SNS::TopicPolicy": ("sns", lambda c, r, res: all(
        _policy_statements(c.get_topic_attributes(TopicArn=topic)["Attributes"].get("Policy"))
        for topic in res(r.properties["Topics"]))),
    "AWS::SQS::Queue": ("sqs", lambda c, r, _: "QueueArn" in c.get_queue_attributes(
        QueueUrl=r.physical_id, AttributeNames=["QueueArn"])["Attributes"]),
    "AWS::SQS::QueuePolicy": ("sqs", lambda c, r, res: all(
        _policy_statements(c.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"].get("Policy"))
        for queue in res(r.properties["Queues"]))),
    "AWS::Kinesis::Stream": ("kinesis", lambda c, r, _: c.describe_stream_summary(
        StreamName=r.physical_id)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"),
    "AWS::KinesisFirehose::DeliveryStream": ("firehose", lambda c, r, _: c.describe_delivery_stream(
        DeliveryStreamName=r.physical_id)["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"),
    "AWS::DynamoDB::Table": ("dynamodb", lambda c, r, _: c.describe_table(
        TableName=r.physical_id)["Table"]["TableStatus"] == "ACTIVE"),
    "AWS::CloudWatch::Alarm": ("cloudwatch", lambda c, r, _: len(c.describe_alarms(
        AlarmNames=[r.physical_id])["MetricAlarms"]) == 1),
    "AWS::Events::Rule": ("events", lambda c, r, _: c.describe_rule(
        Name=r.physical_id.split("|")[-1])["State"] == "ENABLED"),
    "AWS::Redshift::Cluster": ("redshift", lambda c, r, _: len(c.describe_clusters(
        ClusterIdentifier=r.physical_id)["Clusters"]) == 1),
    "AWS::SSM::Parameter": ("ssm", lambda c, r, _: c.get_parameter(Name=r.physical_id)["Parameter"]["Name"] == r.physical_id),
    "AWS::ApiGateway::RestApi": ("apigateway", lambda c, r, _: c.get_rest_api(restApiId=r.physical_id)["id"] == r.physical_id),
    "AWS::ApiGateway::Stage": ("apigateway", lambda c, r, res: c.get_stage(
        restApiId=res(r.properties["RestApiId"]), stageName=r.physical_id)["stageName"] == r.physical_id),
    "AWS::ApiGateway::Deployment": ("apigateway", lambda c, r, res: c.get_deployment(
        restApiId=res(r.properties["RestApiId"]), deploymentId=r.physical_id)["id"] == r.physical_id),
    "AWS::ApiGateway::Resource": ("apigateway", lambda c, r, res: c.get_resource(
        restApiId=res(r.properties["RestApiId"]), resourceId=r.physical_id)["id"] == r.physical_id),
    "AWS::ApiGateway::Method": ("apigateway", lambda c, r, res: c.get_method(
        restApiId=res(r.properties["RestApiId"]), resourceId=_resource_id(c, r, res),
        httpMethod=r.properties["HttpMethod"])["httpMethod"] == r.properties["HttpMethod"]),
    "AWS::ApiGateway::RequestValidator": ("apigateway", lambda c, r, res: c.get_request_validator(
        restApiId=res(r.properties["RestApiId"]), requestValidatorId=r.physical_id)["id"] == r.physical_id),
    "AWS::IAM::ManagedPolicy": ("iam", lambda c, r, _: c.get_policy(PolicyArn=r.physical_id)["Policy"][
        "Arn"] == r.physical_id),
    "AWS::ApiGateway::Account": ("apigateway", lambda c, r, _: bool(c.get_account().get("cloudwatchRoleArn"))),
    "AWS::ApiGateway::Model": ("apigateway", lambda c, r, res: c.get_model(
        restApiId=res(r.properties["RestApiId"]), modelName=r.physical_id)["name"] == r.physical_id),
    "AWS::ApiGateway::GatewayResponse": ("apigateway", lambda c, r, res: c.get_gateway_response(
        restApiId=res(r.properties["RestApiId"]), responseType=r.properties["ResponseType"])[
        "responseType"] == r.properties["ResponseType"]),
    "AWS::OpenSearchService::Domain": ("opensearch", lambda c, r, _: c.describe_domain(
        DomainName=r.physical_id)["DomainStatus"]["DomainName"] == r.physical_id),
}


def _resource_id(client, resource: DeployedResource, resolve: Resolver) -> str:
    """A method's resource: the API's root ("/") when the template names it by RootResourceId."""
    reference = resource.properties["ResourceId"]
    if isinstance(reference, dict) and reference.get("Fn::GetAtt", [None, None])[1] == "RootResourceId":
        api = resolve(resource.properties["RestApiId"])
        return next(item["id"] for item in client.get_resources(restApiId=api)["items"] if item["path"] == "/")
    return resolve(reference)


def deployed_resources(cloudformation, stack_name: str, template: Mapping[str, Any]) -> list[DeployedResource]:
    found = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            logical = summary["LogicalResourceId"]
            found.append(DeployedResource(
                stack_name, logical, summary["ResourceType"], summary.get("PhysicalResourceId", ""),
                template["Resources"].get(logical, {}).get("Properties", {})))
    return found


def fallback_types(cloudformation, stack_name: str) -> set[str]:
    """The resource types LocalStack reported as accepted no-ops in the stack's events."""
    types = set()
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack_name):
        types |= {e["ResourceType"] for e in page["StackEvents"]
                  if FALLBACK_MARK in (e.get("ResourceStatusReason") or "")}
    return types


def exports(cloudformation) -> dict[str, str]:
    found = {}
    for page in cloudformation.get_paginator("list_exports").paginate():
        found.update({e["Name"]: e["Value"] for e in page["Exports"]})
    return found


def missing_resources(resources: list[DeployedResource], clients: Callable[[str], Any],
                      resolve: Resolver) -> list[str]:
    """Each resource that is neither a listed no-op nor found by its service, with why."""
    problems = []
    for resource in resources:
        if resource.type in NOT_RESOURCES or resource.type in NO_OP_FALLBACKS:
            continue
        where = f"{resource.stack}/{resource.logical_id} ({resource.type}, {resource.physical_id!r})"
        if resource.type not in CHECKS:
            problems.append(f"{where}: no existence check for this type (add one to CHECKS)")
            continue
        service, check = CHECKS[resource.type]
        try:
            if not check(clients(service), resource, resolve):
                problems.append(f"{where}: the service does not report it as created")
        except Exception as error:  # a missing resource surfaces as the service's own error
            problems.append(f"{where}: {type(error).__name__}: {error}")
    return problems
