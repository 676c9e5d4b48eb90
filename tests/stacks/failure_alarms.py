"""The alarm on a failure path, found by what it watches rather than by its logical id.

An alarm is on the path when it reads the metric the service publishes for the failure and
carries the dimension that names the resource (an alarm on the right metric of another
stream or domain watches nothing of this one). It must notify the stack's ops topic and fire
on the side the failure shows up on: a `.Success` metric dropping, a failure count rising.
Thresholds, periods and statistics are the constructs' choices and stay in the snapshot.
"""

from __future__ import annotations

FIRES = {"above": ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold"),
         "below": ("LessThanThreshold", "LessThanOrEqualToThreshold")}


def alarms_on(resources: dict, namespace: str, metric: str, *dimensions: dict) -> list[dict]:
    """Properties of the alarms on `namespace`/`metric` whose dimensions include all of `dimensions`."""
    return [p for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
            for p in [r["Properties"]]
            if p.get("Namespace") == namespace and p.get("MetricName") == metric
            and all(d in p.get("Dimensions", []) for d in dimensions)]


def assert_failure_alarm(resources: dict, namespace: str, metric: str, *dimensions: dict,
                         fires: str, topic: str) -> None:
    """Some alarm watches `metric` of the resource `dimensions` name, and each such alarm fires
    `fires` ("above" or "below") its threshold and notifies the topic whose logical id is `topic`."""
    found = alarms_on(resources, namespace, metric, *dimensions)
    assert found, f"no alarm on {namespace} {metric} for {dimensions}"
    for alarm in found:
        assert alarm["AlarmActions"] == [{"Ref": topic}], (metric, dimensions, alarm["AlarmActions"])
        assert alarm["ComparisonOperator"] in FIRES[fires], (metric, dimensions, alarm["ComparisonOperator"])


def ops_topic(resources: dict) -> str:
    """The logical id of the stack's ops topic (each stack names it OpsTopic)."""
    (topic,) = [k for k, r in resources.items() if r["Type"] == "AWS::SNS::Topic" and k.startswith("OpsTopic")]
    return topic
