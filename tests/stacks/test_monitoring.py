"""Every synthesized stack has a dashboard over its data path, and every alarm reaches its ops topic.

The tests iterate over the stacks the app synthesizes, so a stack added later is held
to the same rules without editing this file.
"""

from __future__ import annotations

import json

from refarch.diagram.graph import CDK_PROVIDER_PREFIXES
from refarch.monitoring import DASHBOARD_ID
from tests.stacks.failure_alarms import assert_failure_alarm

# What the dashboard must show, and the literal name a widget may use instead of a Ref.
MONITORED = {
    "AWS::Kinesis::Stream": None, "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Lambda::Function": None, "AWS::DynamoDB::Table": None, "AWS::SQS::Queue": None,
    "AWS::SNS::Topic": None, "AWS::Glue::Job": "Name", "AWS::Redshift::Cluster": "ClusterIdentifier",
    "AWS::KinesisAnalyticsV2::Application": None, "AWS::S3::Bucket": None,
}


def _resources(synthesis, stack):
    return synthesis.template(stack)["Resources"]


def _of_type(resources, kind):
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def test_every_stack_has_the_data_path_dashboard(synthesis):
    assert synthesis.stacks
    for stack in synthesis.stacks:
        dashboards = _of_type(_resources(synthesis, stack), "AWS::CloudWatch::Dashboard")
        assert [k for k in dashboards if k.startswith(DASHBOARD_ID)], stack  # a stack may add its own too


def test_the_dashboards_show_every_resource_on_their_stacks_data_path(synthesis):
    for stack in synthesis.stacks:
        resources = _resources(synthesis, stack)
        body = json.dumps([d["Properties"]["DashboardBody"]
                           for d in _of_type(resources, "AWS::CloudWatch::Dashboard").values()])
        for logical_id, resource in resources.items():
            if resource["Type"] not in MONITORED or logical_id.startswith(CDK_PROVIDER_PREFIXES):
                continue
            name_property = MONITORED[resource["Type"]]
            name = resource["Properties"].get(name_property) if name_property else None
            shown = f'"Ref": "{logical_id}"' in body or f'["{logical_id}",' in body or (name and name in body)
            assert shown, f"{stack}: the dashboard does not show {logical_id} ({resource['Type']})"


def test_every_alarm_notifies_its_stacks_ops_topic_on_alarm_and_on_recovery(synthesis):
    for stack in synthesis.stacks:
        resources = _resources(synthesis, stack)
        alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
        if not alarms:
            continue
        ops = _ops_topics(resources)
        assert len(ops) == 1, f"{stack}: one topic CloudWatch may publish to, found {ops}"
        for logical_id, alarm in alarms.items():
            actions = {"AlarmActions": alarm["Properties"].get("AlarmActions"),
                       "OKActions": alarm["Properties"].get("OKActions")}
            assert actions == {"AlarmActions": [{"Ref": ops[0]}], "OKActions": [{"Ref": ops[0]}]}, (stack, logical_id)


def test_every_failure_queue_alarms_on_each_arrival(synthesis):
    for stack in synthesis.stacks:
        resources = _resources(synthesis, stack)
        watched = {json.dumps(d["Value"]) for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
                   if a["Properties"].get("Namespace") == "AWS/SQS"
                   and a["Properties"].get("MetricName") == "NumberOfMessagesSent"
                   for d in a["Properties"]["Dimensions"] if d["Name"] == "QueueName"}
        for logical_id in _of_type(resources, "AWS::SQS::Queue"):
            assert json.dumps({"Fn::GetAtt": [logical_id, "QueueName"]}) in watched, (stack, logical_id)


def test_every_topic_rule_alarms_when_its_action_fails(synthesis):
    for stack in synthesis.stacks:
        resources = _resources(synthesis, stack)
        failures = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()
                    if a["Properties"].get("Namespace") == "AWS/IoT" and a["Properties"].get("MetricName") == "Failure"]
        for logical_id in _of_type(resources, "AWS::IoT::TopicRule"):
            assert any({"Name": "RuleName", "Value": {"Ref": logical_id}} in a["Dimensions"] for a in failures), \
                (stack, logical_id)


def test_every_flink_job_alarms_when_it_is_down_or_its_checkpoints_fail(synthesis):
    # A job that stops (or cannot checkpoint, and so restarts from an old one) stops its sinks
    # with no error anywhere else; thresholds are the construct's and the snapshot's.
    jobs = 0
    for stack in synthesis.stacks:
        resources = _resources(synthesis, stack)
        for logical_id in _of_type(resources, "AWS::KinesisAnalyticsV2::Application"):
            (topic,) = _ops_topics(resources)
            application = {"Name": "Application", "Value": {"Ref": logical_id}}
            for metric in ("downtime", "numberOfFailedCheckpoints"):
                assert_failure_alarm(resources, "AWS/KinesisAnalytics", metric, application,
                                     fires="above", topic=topic)
            jobs += 1
    assert jobs   # the default app has Flink jobs (AdTech, StreamingLogAnalytics): none found is a broken lookup


def _ops_topics(resources) -> list[str]:
    """Topics whose policy lets this account's CloudWatch alarms publish."""
    found = []
    for policy in _of_type(resources, "AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
               for s in statements):
            found += [topic["Ref"] for topic in policy["Properties"]["Topics"]]
    return sorted(set(found))
