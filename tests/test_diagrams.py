"""Architecture diagrams: generated from the templates, committed, and never stale."""

from __future__ import annotations

import copy

from refarch.diagram import DOCS, data_paths, pages, pages_for, stale_pages, write_pages
from refarch.diagram.graph import Edge, NodeId
from refarch.paths import PROJECT_ROOT


def test_committed_diagrams_match_the_synthesized_templates(synthesis):
    stale = stale_pages(pages_for(synthesis))
    assert stale == [], f"stale diagrams {stale}: run `.venv/bin/refarch diagram` and commit docs/architecture"


def test_every_synthesized_stack_has_a_page_linked_from_the_readme(synthesis):
    readme = (PROJECT_ROOT / "README.md").read_text()
    for stack in synthesis.stacks:
        assert (DOCS / f"{stack}.md").is_file(), stack
        assert f"[`{stack}`](docs/architecture/{stack}.md)" in readme, stack


def test_a_change_to_a_stack_makes_its_page_stale_until_regenerated(synthesis, tmp_path):
    templates = {name: synthesis.template(name) for name in synthesis.stacks}
    names = {name: stack.stack_name for name, stack in synthesis.stacks.items()}
    write_pages(pages(templates, names), tmp_path)
    assert stale_pages(pages(templates, names), tmp_path) == []

    changed = copy.deepcopy(templates)
    resources = changed["IotTelemetry"]["Resources"]
    resources["ArchiveB0C0FFEE"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
    assert stale_pages(pages(changed, names), tmp_path) == ["IotTelemetry.md"]
    write_pages(pages(changed, names), tmp_path)
    assert stale_pages(pages(changed, names), tmp_path) == []


def test_iot_path_runs_from_the_rule_through_the_writer_to_its_stores(synthesis):
    path = _paths(synthesis)["IotTelemetry"]
    edges = {(e.source.logical_id, e.target.logical_id, e.label, e.style) for e in path.edges}
    rule, stream, writer = (_id(path, p) for p in ("DeviceTopicRule", "TelemetryStream", "WriterFunction"))
    assert (rule, stream, "", "data") in edges
    assert (rule, _id(path, "RuleErrors"), "errors", "data") in edges
    assert (stream, writer, "records", "data") in edges
    assert (writer, _id(path, "ConsumeFailedBatches"), "on failure", "failure") in edges
    assert {(writer, _id(path, name), "", "data") for name in ("ReadingsTable", "Quarantine", "Alerts")} <= edges
    assert path.alarms == {NodeId("IotTelemetry", _id(path, "OpsTopic")): _alarm_count(synthesis, "IotTelemetry")}


def test_cross_stack_edges_reach_the_baseline_and_the_lake(synthesis):
    paths = _paths(synthesis)
    warehouse = paths["RedshiftWarehouse"]
    curated = next(n for n in warehouse.nodes if n.stack == "BatchDataLake" and n.logical_id.startswith("LakeCurated"))
    cluster = NodeId("RedshiftWarehouse", _id(warehouse, "WarehouseCluster"))
    assert Edge(curated, cluster) in warehouse.edges
    for stack in set(paths) - {"SecurityBaseline"}:
        shared = {(target.stack, target.logical_id.rstrip("0123456789ABCDEF"), how)
                  for target, how in paths[stack].shared}
        assert ("SecurityBaseline", "DataKey", "encrypted with") in shared, stack


def test_weak_and_strong_cross_stack_references_draw_the_same_edge():
    baseline = {"Resources": {"KeyA1B2C3D4": {"Type": "AWS::KMS::Key"}}, "Outputs": {
        "ExportsKey": {"Value": {"Fn::GetAtt": ["KeyA1B2C3D4", "Arn"]}, "Export": {"Name": "base:ExportsKey"}},
        "PublishKey": {"Value": {"Fn::GetAtt": ["KeyA1B2C3D4", "Arn"]}}}}
    strong = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                      "Properties": {"KmsMasterKeyId": {"Fn::ImportValue": "base:ExportsKey"}}}}}
    weak = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": {
        "Fn::GetStackOutput": {"StackName": "base", "OutputName": "PublishKey", "Region": "us-east-1"}}}}}}
    names = {"Base": "base", "Pattern": "pattern"}
    for pattern in (strong, weak):
        path = data_paths({"Base": baseline, "Pattern": pattern}, names)["Pattern"]
        assert path.shared == {(NodeId("Base", "KeyA1B2C3D4"), "encrypted with"): 1}


def _paths(synthesis):
    templates = {name: synthesis.template(name) for name in synthesis.stacks}
    return data_paths(templates, {name: stack.stack_name for name, stack in synthesis.stacks.items()})


def _id(path, prefix: str) -> str:
    (found,) = [n.logical_id for n in path.nodes if n.stack == path.stack and n.logical_id.startswith(prefix)]
    return found


def _alarm_count(synthesis, stack: str) -> int:
    return sum(r["Type"] == "AWS::CloudWatch::Alarm" for r in synthesis.template(stack)["Resources"].values())


def test_refarch_diagram_writes_the_pages_the_staleness_test_expects(synthesis, tmp_path):
    from typer.testing import CliRunner

    from refarch.cli import cli

    result = CliRunner().invoke(cli, ["diagram", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert stale_pages(pages_for(synthesis), tmp_path) == []
    assert sorted(p.name for p in tmp_path.glob("*.md")) == sorted(f"{s}.md" for s in synthesis.stacks)


def test_an_api_feeds_its_proxy_function_and_a_delivery_stream_reads_its_source_stream():
    template = {"Resources": {
        "ApiA1B2C3D4": {"Type": "AWS::ApiGateway::RestApi", "Properties": {}},
        "HandlerA1B2C3D4": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Method": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "ApiA1B2C3D4"}, "Integration": {"Type": "AWS_PROXY", "Uri": {"Fn::Join": ["", [
                "arn:aws:apigateway:us-east-1:lambda:path/functions/",
                {"Fn::GetAtt": ["HandlerA1B2C3D4", "Arn"]}, "/invocations"]]}}}},
        "EventsA1B2C3D4": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
        "ToLakeA1B2C3D4": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
            "KinesisStreamSourceConfiguration": {"KinesisStreamARN": {"Fn::GetAtt": ["EventsA1B2C3D4", "Arn"]}}}},
    }}
    path = data_paths({"Pattern": template}, {"Pattern": "pattern"})["Pattern"]
    edges = {(e.source.logical_id, e.target.logical_id, e.label) for e in path.edges}
    assert edges == {("ApiA1B2C3D4", "HandlerA1B2C3D4", "requests"), ("EventsA1B2C3D4", "ToLakeA1B2C3D4", "")}
