"""Every stack of the app deploys into a real LocalStack through `refarch deploy --localstack`,
every resource it declares exists there (or is a listed no-op), the data paths LocalStack can
run carry data through the deployed functions (`refarch smoke`), and a second deploy of the
unchanged app changes nothing. The tests run in file order; the redeploy comes last."""

from __future__ import annotations

import re
from datetime import datetime

from refarch.smoke.firehose import LOCALSTACK_FIREHOSE_REASON
from tests.localstack.conftest import aws_client, run_refarch, selected_stacks
from tests.localstack.resources import (
    NO_OP_FALLBACKS, Resolver, deployed_resources, exports, fallback_types, missing_resources,
)

ARRIVED, NOT_RUNNABLE = "arrived", "not runnable here"


def test_refarch_deploy_creates_every_stack(first_deploy, cloudformation, deployed_stack_names):
    assert first_deploy.exit_code == 0, first_deploy.output[-3000:]
    statuses = {pattern: cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
                for pattern, name in deployed_stack_names.items()}
    assert statuses == {pattern: "CREATE_COMPLETE" for pattern in deployed_stack_names}
    # the deploy's own summary says the same, stack by stack
    for pattern in deployed_stack_names:
        assert re.search(rf"│ {pattern}\s+│ deployed\s+│ \d+\.\d", first_deploy.output), pattern


def test_every_declared_resource_exists_unless_localstack_only_accepts_it(
        localstack, cloudformation, deployed_stack_names):
    resolve = Resolver({}, exports(cloudformation))
    problems, declared = [], 0
    for name in deployed_stack_names.values():
        template = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        resources = deployed_resources(cloudformation, name, template)
        assert {r.logical_id for r in resources} == set(template["Resources"]), name
        declared += len(resources)
        resolve.physical = {r.logical_id: r.physical_id for r in resources}
        problems += missing_resources(resources, lambda service: aws_client(localstack, service), resolve)
    assert declared > 0
    assert problems == []


def test_the_no_op_list_names_exactly_what_localstack_accepted_as_no_ops(cloudformation, deployed_stack_names):
    observed = set().union(*(fallback_types(cloudformation, name) for name in deployed_stack_names.values()))
    if set(deployed_stack_names) == set(selected_stacks()) and len(deployed_stack_names) > 1:
        assert observed == set(NO_OP_FALLBACKS), (
            f"stale NO_OP_FALLBACKS: not listed {sorted(observed - set(NO_OP_FALLBACKS))}, "
            f"listed but deployed for real or unused {sorted(set(NO_OP_FALLBACKS) - observed)}")
    assert all(len(reason) > 30 for reason in NO_OP_FALLBACKS.values())


def test_smoke_passes_on_localstack_for_every_stack(smoke_run, deployed_stack_names):
    run, reports = smoke_run
    assert run.exit_code == 0, run.output[-3000:]
    assert set(reports) == set(deployed_stack_names)
    assert all(report["passed"] for report in reports.values())


def steps(reports: dict, stack: str) -> dict[str, tuple[str, str]]:
    return {s["name"]: (s["status"], s["detail"]) for s in reports[stack]["steps"]}


def test_iot_readings_flow_through_the_real_writer(smoke_run, localstack):
    found = steps(smoke_run[1], "IotTelemetry")
    assert {name: status for name, (status, _) in found.items()} == {
        "readings sent": ARRIVED, "readings in the table": ARRIVED,
        "malformed readings quarantined": ARRIVED, "alerts on the topic": ARRIVED}
    assert found["readings in the table"][1].startswith("12 readings and 3 latest-state items")
    assert "invalid_json, schema:ts_missing" in found["malformed readings quarantined"][1]
    assert found["alerts on the topic"][1].startswith("1 of 1")
    # independently of the smoke: the items in the table are the writer's (its item shape and
    # expiry: the reading's time plus TTL_DAYS), so the deployed function really ran
    dynamodb = aws_client(localstack, "dynamodb")
    (stack,) = aws_client(localstack, "cloudformation").describe_stacks(StackName="refarch-dev-IotTelemetry")["Stacks"]
    table = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "TableName")
    items = dynamodb.scan(TableName=table)["Items"]
    readings = [i for i in items if i["device_id"]["S"].startswith("smoke-") and i["ts"]["S"] != "LATEST"]
    assert len(readings) == 12
    for item in readings:
        assert set(item) == {"device_id", "ts", "temperature", "humidity", "battery", "expires_at"}
        epoch = datetime.fromisoformat(item["ts"]["S"]).timestamp()
        assert int(item["expires_at"]["N"]) == int(epoch) + 30 * 86_400


def test_firehose_transform_runs_but_localstack_firehose_cannot_drive_it(smoke_run):
    found = steps(smoke_run[1], "FirehoseParquet")
    assert found["transform answers a Firehose batch"][0] == ARRIVED
    assert "every recordId answered" in found["transform answers a Firehose batch"][1]
    status, detail = found["lines delivered to S3 as Parquet"]
    assert status == NOT_RUNNABLE
    assert detail.startswith(LOCALSTACK_FIREHOSE_REASON) and "recordId" in detail


def test_the_other_patterns_say_which_steps_localstack_cannot_run(smoke_run):
    reports = smoke_run[1]
    assert {n: s for n, (s, _) in steps(reports, "SecurityBaseline").items()} == {
        "data key encrypts and decrypts": ARRIVED, "data key enabled with rotation": ARRIVED, "VPC exists": ARRIVED}
    lake = steps(reports, "BatchDataLake")
    assert lake["raw files in the raw zone"][0] == ARRIVED
    assert lake["nightly workflow (crawl, ETL)"] == (NOT_RUNNABLE, lake["nightly workflow (crawl, ETL)"][1])
    assert "Glue" in lake["nightly workflow (crawl, ETL)"][1]
    assert lake["named query in the Athena workgroup"][0] == NOT_RUNNABLE
    warehouse = steps(reports, "RedshiftWarehouse")
    assert warehouse["loader function ready"][0] == warehouse["setup function ready"][0] == ARRIVED
    assert warehouse["setup statements"][0] == warehouse["load statements"][0] == NOT_RUNNABLE
    clickstream = steps(reports, "StreamingLogAnalytics")
    assert clickstream["batch posted to the collection API"][0] == ARRIVED
    assert clickstream["events on the events stream"][0] == ARRIVED   # API Gateway -> Kinesis, no Lambda
    after_the_job = [s for n, (s, _) in clickstream.items() if n.startswith(("job:", "lake:", "search", "warehouse:"))]
    assert after_the_job == [NOT_RUNNABLE] * 5


def test_a_second_deploy_of_the_unchanged_app_changes_nothing(localstack, first_deploy, smoke_run,
                                                             deployed_stack_names):
    again = run_refarch("deploy", "--localstack", "--endpoint", localstack.endpoint, timeout=600)
    assert again.exit_code == 0, again.output[-3000:]
    for pattern in deployed_stack_names:
        assert re.search(rf"✅\s+{pattern} \(\S+\) \(no changes\)", again.output), pattern
        assert re.search(rf"│ {pattern}\s+│ no changes", again.output), pattern
