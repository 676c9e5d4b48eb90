"""dev and prod deploy side by side in one account and region (issue 11, item 4).

Every literal name in a template that names something account- and region-wide (a bucket,
a Glue database, a job, a log group, an alias, ...) differs between the stages. The check
reads every name-like property (`...Name`, `...Identifier`) of every stack, so a new
resource with a fixed name is caught without being listed here; the properties below are
the reviewed ones that name nothing account-wide.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from refarch.patterns import PATTERN_NAMES

# (resource type, property path) -> why equal values in two stages do not collide.
NOT_ACCOUNT_WIDE = {
    ("AWS::Athena::NamedQuery", "Name"): "named queries are identified by id, within their workgroup",
    ("AWS::CloudWatch::Alarm", "MetricName"): "the metric the alarm watches",
    ("AWS::CloudWatch::Alarm", "Dimensions.Name"): "a metric dimension",
    ("AWS::DynamoDB::Table", "AttributeDefinitions.AttributeName"): "an attribute of the table",
    ("AWS::DynamoDB::Table", "KeySchema.AttributeName"): "an attribute of the table",
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification.AttributeName"): "an attribute of the table",
    ("AWS::EC2::VPCEndpoint", "ServiceName"): "the AWS service the endpoint reaches",
    ("AWS::Glue::Job", "Command.Name"): "the job kind (glueetl)",
    ("AWS::Glue::Table", "TableInput.PartitionKeys.Name"): "a column of the table",
    ("AWS::Glue::Table", "TableInput.StorageDescriptor.Columns.Name"): "a column of the table",
    ("AWS::IAM::Policy", "PolicyName"): "an inline policy's name is scoped to its role",
    ("AWS::IAM::Role", "Policies.PolicyName"): "an inline policy's name is scoped to its role",
    ("AWS::KinesisFirehose::DeliveryStream",
     "ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration.SchemaConfiguration.TableName"):
        "a table within the stage's own database",
    ("AWS::KinesisFirehose::DeliveryStream",
     "ExtendedS3DestinationConfiguration.ProcessingConfiguration.Processors.Parameters.ParameterName"):
        "a processor parameter",
    ("AWS::Redshift::Cluster", "DBName"): "a database inside the stage's own cluster",
    ("AWS::Redshift::ClusterParameterGroup", "Parameters.ParameterName"): "a cluster parameter",
    ("AWS::SNS::Topic", "DisplayName"): "a label shown in notifications",
    ("AWS::CloudWatch::Alarm", "Metrics.MetricStat.Metric.MetricName"): "a metric the alarm's math reads",
    ("AWS::CloudWatch::Alarm", "Metrics.MetricStat.Metric.Dimensions.Name"): "a metric dimension",
    ("AWS::ApiGateway::RestApi", "Name"): "REST APIs are identified by id; names may repeat",
    ("AWS::ApiGateway::Model", "Name"): "a model is named within its REST API",
    ("AWS::ApiGateway::Stage", "StageName"): "a stage is named within its REST API",
    ("AWS::KinesisFirehose::DeliveryStream", "AmazonopensearchserviceDestinationConfiguration.IndexName"):
        "an index inside the stage's own OpenSearch domain",
    ("Custom::SearchIndexSetup", "PolicyName"): "an index policy inside the stage's own domain",
    ("Custom::SearchIndexSetup", "TemplateName"): "an index template inside the stage's own domain",
}


def named(template: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(type, property path, literal value) of every name-like property in `template`."""
    resources = template["Resources"]
    for resource in resources.values():
        kind = resource["Type"]
        for path, value in _strings(resource.get("Properties", {}), ()):
            if not path[-1].endswith(("Name", "Identifier")) or (kind, ".".join(path)) in NOT_ACCOUNT_WIDE:
                continue
            if kind == "AWS::Glue::Table" and path == ("TableInput", "Name"):
                value = f"{_glue_database(resources, resource)}/{value}"  # a table is named within its database
            yield kind, ".".join(path), value


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict):
        if any(key == "Ref" or key.startswith("Fn::") for key in value):
            return  # a reference to something named elsewhere, not a name
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str) and path:
        yield path, value


def _glue_database(resources: dict, table: dict) -> str:
    database = table["Properties"]["DatabaseName"]
    if isinstance(database, dict) and "Ref" in database:
        return resources[database["Ref"]]["Properties"]["DatabaseInput"]["Name"]
    return database


def test_no_two_resources_of_dev_and_prod_share_a_physical_name(synthesis, prod_synthesis):
    dev = {n for stack in PATTERN_NAMES for n in named(synthesis.template(stack))}
    prod = {n for stack in PATTERN_NAMES for n in named(prod_synthesis.template(stack))}
    assert dev and prod
    assert sorted(dev & prod) == []


def test_glue_databases_carry_the_stage(synthesis, prod_synthesis):
    def databases(result) -> set[str]:
        return {value for stack in PATTERN_NAMES for kind, path, value in named(result.template(stack))
                if kind == "AWS::Glue::Database"}

    assert {"refarch_lake_dev", "refarch_logs_dev"} <= databases(synthesis)
    assert all(name.endswith("_dev") for name in databases(synthesis))
    assert {"refarch_lake_prod", "refarch_logs_prod"} <= databases(prod_synthesis)
    assert all(name.endswith("_prod") for name in databases(prod_synthesis))


def test_the_check_sees_a_fixed_name_that_does_not_carry_the_stage():
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders"}}}}
    assert set(named(template)) == {("AWS::SQS::Queue", "QueueName", "orders")}
