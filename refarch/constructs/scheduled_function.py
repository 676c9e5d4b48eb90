"""Run a function on a schedule (and on demand), with failures kept and alarmed."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.nag import acknowledge


class ScheduledFunction(Construct):
    """EventBridge invokes `function` on a `schedule` or on events matching `event_pattern`;
    an invocation that still fails after its retries lands in an encrypted queue, and
    errors and failed runs raise alarms. Run it on demand with `aws lambda invoke`.

    This sets the function's asynchronous-invocation config (a function has one: retries,
    event age, the failure queue) and attaches `policy` (send to the failure queue) to its
    role, leaving the role's own policy as the caller wrote it; for a function whose role is
    not known here (imported), attach `statements` to it yourself."""

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
        self.statements = [
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.failures.queue_arn]),
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn])]
        self.policy = None if function.role is None else iam.Policy(
            self, "SendFailures", roles=[function.role], statements=self.statements)
        # Failed runs (after Lambda's own retries) and undeliverable events both land here. At
        # AsyncInvoke/Resource, as CDK's L2 had it: a function has one such config, so a new
        # logical id would fail the update of a deployed stack (CloudFormation creates first).
        self.async_invoke = lambda_.CfnEventInvokeConfig(
            Construct(self, "AsyncInvoke"), "Resource", function_name=function.function_name, qualifier="$LATEST",
            maximum_retry_attempts=retries, maximum_event_age_in_seconds=3600,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=self.failures.queue_arn)))
        if self.policy is not None:  # Lambda checks the role may send to the queue when the config is set
            self.async_invoke.node.add_dependency(self.policy)
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
