"""Reachability gate: compute in the isolated VPC has an endpoint for every service it calls."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refarch.application import PROJECT_ROOT
from refarch.endpoint_needs import INTERFACE_ENDPOINTS_NEEDED
from refarch.gates import logical_paths, reachability_findings
from refarch.patterns import BASELINE, PATTERN_NAMES
from refarch.reachability import GATEWAY_ENDPOINTS, baseline_endpoints, endpoints_called, unreachable

REFARCH = Path(sys.executable).parent / "refarch"


def without_endpoint(template: dict, service_suffix: str) -> dict:
    """`template` with the VPC endpoint for `service_suffix` (e.g. '.sqs') removed."""
    trimmed = copy.deepcopy(template)
    trimmed["Resources"] = {k: r for k, r in trimmed["Resources"].items()
                            if not (r["Type"] == "AWS::EC2::VPCEndpoint"
                                    and str(r["Properties"]["ServiceName"]).endswith(service_suffix))}
    return trimmed


@pytest.mark.parametrize("stack", PATTERN_NAMES)
def test_every_stack_passes_the_reachability_gate(synthesis, stack):
    report = next(r for r in synthesis.reports if r.stack == stack)
    assert [str(f) for f in report.reach] == []


def test_removing_an_endpoint_fails_naming_resource_service_and_endpoint(synthesis):
    baseline = without_endpoint(synthesis.template(BASELINE), ".sqs")
    stack = synthesis.stacks["IotTelemetry"]
    (finding,) = reachability_findings(stack, synthesis.template("IotTelemetry"), baseline_endpoints(baseline))
    assert (finding.gate, finding.rule, finding.where) == ("reach", "sqs", "IotTelemetry/Writer/Function/Resource")
    assert finding.message == ("calls sqs from the isolated VPC (its role allows sqs:SendMessage), but the "
                               "baseline has no interface endpoint 'sqs'")


def test_without_any_endpoint_each_pattern_misses_what_it_declares(synthesis):
    # The declaration settings use (endpoint_needs.py) is exactly what the templates call.
    for pattern in PATTERN_NAMES:
        called = {e for calls in endpoints_called(synthesis.template(pattern)).values() for e in calls}
        assert called - set(GATEWAY_ENDPOINTS) == set(INTERFACE_ENDPOINTS_NEEDED.get(pattern, {})), pattern
    assert set(INTERFACE_ENDPOINTS_NEEDED) <= set(PATTERN_NAMES)


def test_the_baseline_has_every_declared_endpoint_and_the_gateways(synthesis):
    endpoints = baseline_endpoints(synthesis.template(BASELINE))
    declared = {e for needs in INTERFACE_ENDPOINTS_NEEDED.values() for e in needs}
    assert endpoints == declared | set(GATEWAY_ENDPOINTS)


def test_what_each_resource_in_the_vpc_calls(synthesis):
    def calls(stack: str) -> dict[str, set[str]]:
        paths = logical_paths(synthesis.stacks[stack])
        return {paths[k]: set(v) for k, v in endpoints_called(synthesis.template(stack)).items()}

    assert calls("IotTelemetry") == {"IotTelemetry/Writer/Function/Resource": {"dynamodb", "sqs", "sns"}}
    assert calls("RedshiftWarehouse") == {
        "RedshiftWarehouse/Loader/Function/Resource": {"redshift-data", "s3"},   # + the ETL run's manifest
        "RedshiftWarehouse/Setup/Function/Function/Resource": {"redshift-data"},
        "RedshiftWarehouse/Warehouse/Cluster": {"s3", "glue"}}
    flink = {"kinesis-streams", "logs", "monitoring", "s3"}
    # the domain and the search Firehose are in the VPC but call nothing from it (reachability.py)
    assert calls("StreamingLogAnalytics") == {"StreamingLogAnalytics/ClickstreamJob/Application": flink,
                                              "StreamingLogAnalytics/IndexSetup/Function/Function/Resource": set(),
                                              "StreamingLogAnalytics/Search/Domain": set(),
                                              "StreamingLogAnalytics/ToSearch/DeliveryStream": set()}
    assert calls("AdTech") == {"AdTech/CtrJob/Application": flink,
                               "AdTech/Updater/Function/Resource": {"dynamodb", "sqs"},
                               "AdTech/Placement/Function/Resource": {"dynamodb"}}
    assert calls("FirehoseParquet") == calls("BatchDataLake") == {}  # nothing of theirs is in the VPC


def test_refarch_synth_refuses_no_interface_endpoints_with_one_line(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "JSII_"))}
    result = subprocess.run([str(REFARCH), "synth", "-c", "interface_endpoints=none", "--outdir", str(tmp_path)],
                            cwd=PROJECT_ROOT, env=environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "refarch: invalid setting interface_endpoints='none': allowed a list that includes sqs, which "
        "IotTelemetry needs (the writer quarantines malformed readings in SQS); name more endpoints to add them"]


# The rules, each on a small template -------------------------------------------------

def function_template(*statements: dict, extra: dict | None = None) -> dict:
    return {"Resources": {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
            "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
            "LoggingConfig": {"LogGroup": {"Ref": "Logs"}}}},
        "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]}},
        "FnPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": "FnRole"}], "PolicyDocument": {"Statement": list(statements)}}},
        **(extra or {}),
    }}


def allow(*actions: str, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource, **extra}


def services(template: dict, endpoints=()) -> set[tuple[str, str | None]]:
    return {(u.service, u.endpoint) for u in unreachable(template, endpoints)}


def test_log_delivery_and_vpc_attachment_are_lambdas_own_calls():
    template = function_template(allow("logs:CreateLogStream", "logs:PutLogEvents"))
    assert services(template) == set()


def test_kms_is_counted_only_when_no_service_calls_it_on_the_callers_behalf():
    direct = function_template(allow("kms:Decrypt"))
    assert services(direct) == {("kms", "kms")}
    through_sqs = function_template(allow("kms:Decrypt", "kms:GenerateDataKey"), allow("sqs:SendMessage"))
    assert services(through_sqs) == {("sqs", "sqs")}
    via_service = function_template(allow("kms:Decrypt", Condition={
        "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}), allow("lambda:InvokeFunction"))
    assert services(via_service) == {("lambda", "lambda")}


def test_event_sources_and_failure_destinations_are_lambdas_own_calls():
    stream, dlq = {"Fn::GetAtt": ["Stream", "Arn"]}, {"Fn::GetAtt": ["Dlq", "Arn"]}
    template = function_template(
        allow("kinesis:GetRecords", "kinesis:GetShardIterator", resource=stream),
        allow("sqs:SendMessage", resource=dlq),
        extra={"Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "Fn"}, "EventSourceArn": stream,
            "DestinationConfig": {"OnFailure": {"Destination": dlq}}}}})
    assert services(template) == set()
    # The same grant on a queue the function itself sends to is the function's call.
    template["Resources"]["FnPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        allow("sqs:SendMessage", resource={"Fn::GetAtt": ["Quarantine", "Arn"]}))
    assert services(template) == {("sqs", "sqs")}


def test_credentials_the_data_api_fetches_need_no_endpoint_of_their_own():
    template = function_template(allow("redshift-data:ExecuteStatement"), allow("secretsmanager:GetSecretValue"),
                                 allow("redshift:GetClusterCredentials"))
    assert services(template) == {("redshift-data", "redshift-data")}
    alone = function_template(allow("secretsmanager:GetSecretValue"))
    assert services(alone) == {("secretsmanager", "secretsmanager")}


def test_a_resource_the_gate_cannot_classify_is_a_finding():
    template = {"Resources": {"Thing": {"Type": "AWS::Custom::Compute", "Properties": {
        "VpcConfig": {"SubnetIds": ["subnet-1"]}}}}}
    (finding,) = unreachable(template, endpoints=())
    assert finding.endpoint is None and "does not know what AWS::Custom::Compute calls" in finding.message
    imported = function_template()
    imported["Resources"]["Fn"]["Properties"]["Role"] = "arn:aws:iam::123456789012:role/elsewhere"
    assert "is not in this template" in unreachable(imported, endpoints=())[0].message


def test_a_function_outside_the_vpc_is_not_checked():
    template = function_template(allow("sqs:SendMessage"))
    del template["Resources"]["Fn"]["Properties"]["VpcConfig"]
    assert services(template) == set()
