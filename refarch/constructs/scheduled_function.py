"""Run a function on a schedule (and on demand), with failures kept and alarmed."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.nag import acknowledge, acknowledge_kms_grant_families


class ScheduledFunction(Construct):
    """EventBridge invokes `function` on a `schedule` or on events matching `event_pattern`;
    an invocation that still fails after its retries lands in an encrypted queue, and
    errors and failed runs raise alarms. Run it on demand with `aws lambda invoke`."""

    def __init__(self, scope: Construct, id: str, *, function: lambda_.IFunction, key: kms.IKey,
                 schedule: str | None = None, event_pattern: events.EventPattern | None = None,
                 alarm_topic: sns.ITopic | None = None, retries: int = 1) -> None:
        super().__init__(scope, id)
        if (schedule is None) == (event_pattern is None):
            raise ValueError("ScheduledFunction: give exactly one of schedule= or event_pattern=")
        if schedule is not None and not (schedule.startswith("cron(") and schedule.endswith(")")):
            raise ValueError(f"ScheduledFunction schedule={schedule!r}: an EventBridge cron(...) expression")
        if not 0 <= retries <= 2:
            raise ValueError(f"ScheduledFunction retries={retries!r}: allowed 0 to 2")
        self.failures = sqs.Queue(self, "Failures", encryption=sqs.QueueEncryption.KMS,
                                  encryption_master_key=key, enforce_ssl=True,
                                  retention_period=Duration.days(14))
        acknowledge(self.failures, "SQS3", "This queue is itself the failure destination of the "
                    "scheduled invocations; it keeps the events that exhausted their retries")
        # Failed runs (after Lambda's own retries) and undeliverable events both land here.
        lambda_.EventInvokeConfig(self, "AsyncInvoke", function=function, retry_attempts=retries,
                                  max_event_age=Duration.hours(1),
                                  on_failure=destinations.SqsDestination(self.failures))
        if function.role is not None:  # the destination grant names KMS action families
            acknowledge_kms_grant_families(function.role)
        self.rule = events.Rule(self, "Trigger", event_pattern=event_pattern,
                                schedule=events.Schedule.expression(schedule) if schedule else None,
                                targets=[targets.LambdaFunction(function, dead_letter_queue=self.failures,
                                                                retry_attempts=2,
                                                                max_event_age=Duration.hours(1))])
        self.alarms = [
            alarm_when(self, "Errors", topic=alarm_topic, above=0,
                       metric=function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                       description="The scheduled function failed"),
            alarm_when(self, "FailedRuns", topic=alarm_topic, above=0,
                       metric=self.failures.metric_number_of_messages_sent(period=FIVE_MINUTES, statistic="Sum"),
                       description="A run exhausted its retries; its event went to the failure queue"),
        ]
