"""Every alarm notifies a topic that CloudWatch is allowed to publish to."""

from __future__ import annotations

import pytest

from refarch.patterns import BASELINE, PATTERN_NAMES

STACKS_WITH_ALARMS = [name for name in PATTERN_NAMES if name not in (BASELINE, "BatchDataLake")]


@pytest.mark.parametrize("stack", STACKS_WITH_ALARMS)
def test_every_alarm_notifies_a_topic_whose_policy_admits_cloudwatch(synthesis, stack):
    resources = synthesis.template(stack)["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms
    policies = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::SNS::TopicPolicy":
            for topic in resource["Properties"]["Topics"]:
                policies.setdefault(topic["Ref"], []).extend(resource["Properties"]["PolicyDocument"]["Statement"])
    for alarm in alarms:
        (action,) = alarm["AlarmActions"]
        statements = policies[action["Ref"]]
        allowed = [s for s in statements if s["Effect"] == "Allow"
                   and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and s["Action"] == "sns:Publish"]
        assert len(allowed) == 1, f"{alarm['AlarmDescription']}: CloudWatch may not publish to {action['Ref']}"
        assert allowed[0]["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"


@pytest.mark.parametrize("stack", STACKS_WITH_ALARMS)
def test_queue_alarms_fire_on_arrivals_not_on_waiting_messages(synthesis, stack):
    resources = synthesis.template(stack)["Resources"]
    queue_alarms = {n: r["Properties"] for n, r in resources.items()
                    if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"}
    # A failure queue's replay deadline is the one alarm on a waiting message, by design: it fires
    # once its oldest batch nears the stream's retention (each arrival has its own alarm too).
    deadlines = {n for n in queue_alarms if "FailedBatchNearExpiry" in n}
    assert all(queue_alarms[n]["MetricName"] == "ApproximateAgeOfOldestMessage" for n in deadlines)
    assert all(a["MetricName"] == "NumberOfMessagesSent" and a["Statistic"] == "Sum"
               for n, a in queue_alarms.items() if n not in deadlines)


def test_glue_failures_reach_the_lake_ops_topic_through_eventbridge(synthesis):
    resources = synthesis.template("BatchDataLake")["Resources"]
    # The dashboard's own rules only count job states for its widgets: they have no target.
    rules = [r["Properties"] for r in resources.values()
             if r["Type"] == "AWS::Events::Rule" and r["Properties"].get("Targets")]
    patterns = {r["EventPattern"]["detail-type"][0]: r["EventPattern"]["detail"] for r in rules}
    # the rules name every job and crawler of the lake, and every state that is a failure
    jobs = [r["Properties"]["Name"] for r in resources.values() if r["Type"] == "AWS::Glue::Job"]
    crawlers = [r["Properties"]["Name"] for r in resources.values() if r["Type"] == "AWS::Glue::Crawler"]
    job_rule, crawler_rule = patterns["Glue Job State Change"], patterns["Glue Crawler State Change"]
    assert jobs and sorted(job_rule["jobName"]) == sorted(jobs)
    assert set(job_rule["state"]) == {"FAILED", "TIMEOUT", "STOPPED", "ERROR"}
    assert crawlers and sorted(crawler_rule["crawlerName"]) == sorted(crawlers)
    assert crawler_rule["state"] == ["Failed"]
    topic = next(k for k, r in resources.items() if r["Type"] == "AWS::SNS::Topic")
    assert all(rule["Targets"][0]["Arn"] == {"Ref": topic} for rule in rules)
    # EventBridge publishes through a role of the lake's own (not as the events service, which
    # would need a statement in the baseline key's policy), and that role may publish.
    (role,) = {rule["Targets"][0]["RoleArn"]["Fn::GetAtt"][0] for rule in rules}
    assert resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"}
    (policy,) = [r for r in resources.values()
                 if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]]
    assert {"Action": "sns:Publish", "Effect": "Allow", "Resource": {"Ref": topic}} in (
        policy["Properties"]["PolicyDocument"]["Statement"])
