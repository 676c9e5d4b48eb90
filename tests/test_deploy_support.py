"""The pure parts of `refarch deploy --localstack` and `refarch smoke` (no LocalStack needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from refarch.render import safe_text
from refarch.deploy.cdk_cli import assembly_stacks, deploy, stack_name
from refarch.deploy.layers import powertools_layer_zip
from refarch.deploy.localstack import (
    LayerReference, cli_environment, endpoint_from, layer_references, operation_seconds,
)
from refarch.smoke.firehose import firehose_event, is_parquet
from refarch.smoke.iot import sample
from refarch.smoke.report import ARRIVED, NOT_RUNNABLE, SmokeReport, Step
from refarch.smoke.target import poll

LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"


def test_endpoint_comes_from_the_option_then_the_environment_then_the_default():
    assert endpoint_from("http://127.0.0.1:4599/", {}) == "http://127.0.0.1:4599"
    assert endpoint_from(None, {"LOCALSTACK_ENDPOINT": "http://ls:4566"}) == "http://ls:4566"
    assert endpoint_from(None, {}) == "http://localhost:4566"
    with pytest.raises(ValueError, match="expected http"):
        endpoint_from("localhost:4566", {})


def test_the_cli_environment_drops_the_callers_aws_identity_and_points_at_localstack():
    environment = cli_environment("http://127.0.0.1:4599", "eu-west-1",
                                  {"AWS_PROFILE": "prod", "CDK_DEFAULT_ACCOUNT": "111111111111", "HOME": "/h"})
    assert "AWS_PROFILE" not in environment and "CDK_DEFAULT_ACCOUNT" not in environment
    assert environment["HOME"] == "/h"
    assert environment["AWS_ENDPOINT_URL"] == environment["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4599"
    # cdklocal reads the variable named by AWS_S3_FORCE_PATH_STYLE
    assert environment[environment["AWS_S3_FORCE_PATH_STYLE"]] == "1"
    assert environment["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_only_other_accounts_layers_are_seeded():
    template = {"Resources": {
        "F": {"Type": "AWS::Lambda::Function", "Properties": {"Layers": [
            LAYER, "arn:aws:lambda:us-east-1:000000000000:layer:mine:3", {"Ref": "Layer"}]}},
        "Q": {"Type": "AWS::SQS::Queue", "Properties": {"Layers": [LAYER.replace("27", "1")]}}}}
    assert layer_references([template], own_account="000000000000") == {
        LayerReference("us-east-1", "017000801446", "AWSLambdaPowertoolsPythonV3-python313-x86_64", 27)}
    assert LayerReference("us-east-1", "017000801446", "AWSLambdaPowertoolsPythonV3-python313-x86_64", 27).arn == LAYER


def test_only_the_powertools_layers_can_be_rebuilt():
    with pytest.raises(ValueError, match="only the AWS-managed Powertools"):
        powertools_layer_zip("SomeoneElsesLayer")


def write_assembly(folder, dependencies: dict[str, list[str]]):
    artifacts = {name: {"type": "aws:cloudformation:stack", "dependencies": [*deps, f"{name}.assets"],
                        "properties": {"stackName": f"refarch-dev-{name}", "templateFile": f"{name}.template.json"}}
                 for name, deps in dependencies.items()}
    artifacts |= {f"{name}.assets": {"type": "cdk:asset-manifest"} for name in dependencies}
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))


def test_stacks_come_after_what_they_depend_on_and_a_selection_brings_its_dependencies(tmp_path):
    write_assembly(tmp_path, {"Warehouse": ["Lake", "Base"], "Lake": ["Base"], "Base": [], "Iot": ["Base"]})
    ordered = assembly_stacks(tmp_path)
    assert sorted(ordered) == ["Base", "Iot", "Lake", "Warehouse"]
    assert ordered.index("Base") < ordered.index("Lake") < ordered.index("Warehouse")
    assert assembly_stacks(tmp_path, ["Warehouse"]) == ["Base", "Lake", "Warehouse"]
    assert stack_name(tmp_path, "Lake") == "refarch-dev-Lake"


def test_deploy_reads_each_stacks_outcome_from_the_cli(tmp_path):
    write_assembly(tmp_path, {"Base": [], "Iot": ["Base"], "Lake": ["Base"]})
    script = tmp_path / "fake-cdk"
    script.write_text("#!/bin/sh\n"
                      "echo ' ✅  Base (refarch-dev-Base) (no changes)'\n"
                      "echo '❌  refarch-dev-Iot failed to deploy'\n"
                      "exit 1\n")
    script.chmod(0o755)
    run = deploy(script, ["Base", "Iot", "Lake"], app=tmp_path, environment={"PATH": "/bin:/usr/bin"},
                 echo=lambda line: None)
    assert {s: o.outcome for s, o in run.stacks.items()} == {
        "Base": "no changes", "Iot": "failed", "Lake": "not deployed"}
    assert run.exit_code == 1 and not run.succeeded


class FakeEvents:
    def __init__(self, events):
        self.events = events

    def get_paginator(self, name):
        assert name == "describe_stack_events"
        return self

    def paginate(self, StackName):
        yield {"StackEvents": self.events}


def test_operation_time_is_read_from_the_latest_operation_of_the_stack():
    t0 = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)

    def event(logical, status, seconds, type_="AWS::CloudFormation::Stack"):
        return {"LogicalResourceId": logical, "ResourceStatus": status, "Timestamp": t0 + timedelta(seconds=seconds),
                "ResourceType": type_}

    events = [event("s", "UPDATE_COMPLETE", 100), event("Q", "UPDATE_COMPLETE", 99, "AWS::SQS::Queue"),
              event("s", "UPDATE_IN_PROGRESS", 92.5), event("s", "CREATE_COMPLETE", 30),
              event("s", "CREATE_IN_PROGRESS", 0)]
    assert operation_seconds(FakeEvents(events), "s") == 7.5
    assert operation_seconds(FakeEvents([]), "s") is None


def test_a_report_passes_only_when_every_runnable_step_arrived():
    report = SmokeReport("IotTelemetry", "localstack")
    report.arrived("readings sent", "14 records")
    report.not_runnable("topic rule", "no IoT Core")
    assert report.passed
    report.missing("readings in the table", "0 of 12")
    assert not report.passed
    only_not_runnable = SmokeReport("X", "localstack", [Step("a", NOT_RUNNABLE, "why")])
    assert not only_not_runnable.passed  # nothing ran: not a pass
    with pytest.raises(ValueError, match="allowed"):
        Step("a", "maybe", "")
    assert report.step("readings sent").status == ARRIVED


def test_poll_returns_as_soon_as_the_check_holds_and_reports_its_progress():
    now = [0.0]
    seen = []
    answers = iter([None, [], ["object"]])
    result = poll(lambda: next(answers), timeout=60, interval=5, progress=seen.append, what="objects",
                  clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert result == ["object"]
    assert seen == ["waiting for objects: 0/60 s", "waiting for objects: 5/60 s"]


def test_poll_gives_up_after_the_timeout_with_the_last_answer():
    now = [0.0]
    result = poll(lambda: [], timeout=10, interval=4, progress=lambda m: None, what="x",
                  clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert result == [] and now[0] == 12


def test_the_iot_sample_is_seeded_tagged_with_the_run_and_knows_its_alerts():
    rules = [{"metric": "temperature", "op": ">", "value": 80}, {"metric": "battery", "op": "<", "value": 10}]
    first = sample("abc", rules, now_ms=1_796_000_000_000)
    assert first == sample("abc", rules, now_ms=1_796_000_000_000)
    assert len(first.readings) == 12 and len(first.malformed) == 2 and first.alerts == 1
    assert first.devices == ["smoke-abc-0", "smoke-abc-1", "smoke-abc-2"]
    assert all(r["ts"].endswith("Z") for r in first.readings)  # the writer's canonical form
    assert sample("abc", [], now_ms=1_796_000_000_000).alerts == 0


def test_the_firehose_event_is_what_real_firehose_sends_and_parquet_is_recognised():
    event = firehose_event([b"a", b"b"])
    assert [r["recordId"] for r in event["records"]] == [f"{0:056d}", f"{1:056d}"]
    assert is_parquet(b"PAR1" + b"x" * 10 + b"PAR1") and not is_parquet(b"") and not is_parquet(b"{}\n" * 5)


def test_untrusted_text_is_inert_in_the_terminal():
    assert safe_text("[red]boom[/] \x1b[2Jgone\n") == "\\[red]boom\\[/] \\x1b[2Jgone\\n"


def test_the_public_powertools_parameters_the_templates_resolve_are_found():
    from refarch.constructs.python_function import powertools_layer_parameter_name
    from refarch.deploy.localstack import powertools_parameters

    name = powertools_layer_parameter_name("3.37.0")
    template = {"Parameters": {
        "Powertools": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": name},
        "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/x/version"},
        "Plain": {"Type": "String", "Default": name}}}
    assert powertools_parameters([template]) == {name} == {"/aws/service/powertools/python/x86_64/python3.13/3.37.0"}
