"""The RedshiftWarehouse smoke check against fakes: on AWS it checks both functions, that the setup
custom resource completed (the setup ran at deploy, as the admin) and invokes the loader for the
load batch; on LocalStack the two SQL steps are not runnable, each with its reason."""

from __future__ import annotations

import io
import json

from refarch.smoke import CHECKS
from refarch.smoke import warehouse
from refarch.smoke.report import ARRIVED, MISSING, NOT_RUNNABLE
from refarch.smoke.target import Target

OUTPUTS = {"LoaderFunctionName": "loader", "SetupFunctionName": "setup", "ClusterIdentifier": "wh"}


class Lambda:
    def __init__(self, error: bool = False) -> None:
        self.invoked, self.error = [], error

    def get_function_configuration(self, FunctionName):
        return {"FunctionName": FunctionName, "State": "Active", "Runtime": "python3.13"}

    def invoke(self, FunctionName, Payload):
        self.invoked.append((FunctionName, json.loads(Payload)))
        body = {"errorMessage": "permission denied"} if self.error else {"status": "FINISHED", "statements": []}
        return {"Payload": io.BytesIO(json.dumps(body).encode()), **({"FunctionError": "Unhandled"} if self.error else {})}


class Redshift:
    def describe_clusters(self, ClusterIdentifier):
        return {"Clusters": [{"ClusterIdentifier": ClusterIdentifier, "NodeType": "ra3.xlplus",
                              "ClusterStatus": "available"}]}


class CloudFormation:
    def __init__(self, status: str) -> None:
        self.status = status

    def get_paginator(self, name):
        assert name == "list_stack_resources"
        status = self.status

        class Pages:
            def paginate(self, StackName):
                return [{"StackResourceSummaries": [
                    {"LogicalResourceId": "LoaderFunction", "ResourceType": "AWS::Lambda::Function",
                     "ResourceStatus": "CREATE_COMPLETE"},
                    {"LogicalResourceId": "Setup1774D09E", "ResourceType": "Custom::RedshiftWarehouseSetup",
                     "ResourceStatus": status}]}]
        return Pages()


class FakeTarget(Target):
    def __init__(self, name: str, *, status: str = "UPDATE_COMPLETE", error: bool = False) -> None:
        super().__init__(name, None, "us-east-1")
        self.clients = {"lambda": Lambda(error), "redshift": Redshift(), "cloudformation": CloudFormation(status)}

    def outputs(self, stack_name):
        return OUTPUTS

    def client(self, service):
        return self.clients[service]


def run(target: FakeTarget) -> dict[str, tuple[str, str]]:
    report = warehouse.smoke_warehouse(target, "refarch-dev-RedshiftWarehouse", timeout=60, progress=lambda _: None)
    return {step.name: (step.status, step.detail) for step in report.steps}


def test_the_check_is_registered_for_the_stack():
    assert CHECKS["RedshiftWarehouse"] is warehouse.smoke_warehouse


def test_on_aws_the_setup_has_completed_and_the_loader_runs_the_load():
    target = FakeTarget("aws")
    steps = run(target)
    assert {name: status for name, (status, _) in steps.items()} == {
        "loader function ready": ARRIVED, "setup function ready": ARRIVED, "cluster exists": ARRIVED,
        "setup statements": ARRIVED, "load statements": ARRIVED}
    assert target.clients["lambda"].invoked == [("loader", {})]       # the loader only: the setup ran at deploy


def test_on_aws_a_setup_that_did_not_complete_or_a_failed_load_is_missing():
    steps = run(FakeTarget("aws", status="UPDATE_FAILED", error=True))
    assert steps["setup statements"][0] == MISSING and "UPDATE_FAILED" in steps["setup statements"][1]
    assert steps["load statements"] == (MISSING, 'the loader failed: {\'errorMessage\': \'permission denied\'}')


def test_on_localstack_neither_sql_step_runs_and_each_says_why():
    target = FakeTarget("localstack")
    steps = run(target)
    assert steps["setup statements"] == (NOT_RUNNABLE, warehouse.NO_CUSTOM_RESOURCES)
    assert steps["load statements"] == (NOT_RUNNABLE, warehouse.NO_SQL)
    assert target.clients["lambda"].invoked == []
