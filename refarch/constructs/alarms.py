"""Alarms that notify an operations topic."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def ops_topic(scope: Construct, id: str, *, key: kms.IKey) -> sns.Topic:
    """Encrypted, TLS-only topic for alarm notifications (the key must allow CloudWatch).

    Enforcing TLS writes a topic policy, which replaces SNS's default one; so the policy
    must also let this account's CloudWatch alarms publish, or no alarm reaches anyone.
    """
    stack = Stack.of(scope)
    topic = sns.Topic(scope, id, master_key=key, enforce_ssl=True, display_name="refarch operational alarms")
    topic.add_to_resource_policy(iam.PolicyStatement(
        sid="AllowThisAccountsAlarms", actions=["sns:Publish"], resources=[topic.topic_arn],
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"}}))
    return topic


def alarm_when(scope: Construct, id: str, *, metric: cloudwatch.IMetric, description: str,
               topic: sns.ITopic | None, above: float | None = None, below: float | None = None,
               periods: int = 1) -> cloudwatch.Alarm:
    """Alarm when `metric` goes above `above` (or below `below`) for `periods` periods.

    Missing data does not breach: a quiet pipeline is not a broken one.
    """
    if (above is None) == (below is None):
        raise ValueError(f"alarm {id}: give exactly one of above= or below=")
    alarm = cloudwatch.Alarm(
        scope, id, metric=metric, threshold=above if below is None else below,
        evaluation_periods=periods,
        comparison_operator=(cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD if below is None
                             else cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD),
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description)
    if topic is not None:
        alarm.add_alarm_action(actions.SnsAction(topic))
        alarm.add_ok_action(actions.SnsAction(topic))
    return alarm


FIVE_MINUTES = Duration.minutes(5)
