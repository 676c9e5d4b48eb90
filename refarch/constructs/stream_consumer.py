"""Kinesis stream -> Lambda, with a failure destination, alarms and least-privilege grants."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from refarch.constructs.alarms import FIVE_MINUTES, alarm_when
from refarch.constructs.nag import acknowledge

# What Lambda's poller calls on a stream read with shard iterators (no enhanced fan-out).
READ_STREAM = ("kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
               "kinesis:GetShardIterator", "kinesis:ListShards")


class StreamConsumer(Construct):
    """Consumes `stream` with `function`, reporting partial batch failures.

    A failing batch is bisected to isolate the bad record; after `retry_attempts` or
    `max_record_age` the record's metadata goes to an encrypted SQS queue, so a
    poison record never blocks its shard for longer than that.

    The queue holds where the records are, not the records: `refarch replay` fetches them
    from the stream while it still holds them. A record reaches the queue at most
    `max_record_age` old, so it stays replayable for `stream_retention - max_record_age`
    (the replay window; with `min_replay_window`, synth refuses a shorter one); an alarm
    fires when the oldest failed batch has used up all but a day (or half) of it.
    `stream_retention` defaults to the stream's own, when it is a Stream of this app.

    The event source mapping and the permissions it needs (read `stream`, decrypt with its
    key, send to the failure queue) are this construct's: `policy` is attached to the
    function's role, whose own policy is left as the caller wrote it. For a function whose
    role is not known here (imported), attach `statements` to it yourself.
    """

    def __init__(self, scope: Construct, id: str, *, stream: kinesis.IStream,
                 function: lambda_.IFunction, key: kms.IKey, stream_retention: Duration | None = None,
                 min_replay_window: Duration | None = None, batch_size: int = 100,
                 retry_attempts: int = 3, max_record_age: Duration = Duration.hours(1),
                 max_batching_window: Duration = Duration.seconds(1),
                 iterator_age_alarm: Duration = Duration.minutes(5),
                 alarm_topic: sns.ITopic | None = None) -> None:
        super().__init__(scope, id)
        if not 1 <= batch_size <= 10000:
            raise ValueError(f"StreamConsumer batch_size={batch_size!r}: allowed 1 to 10000")
        if not 0 <= retry_attempts <= 10000:
            raise ValueError(f"StreamConsumer retry_attempts={retry_attempts!r}: allowed 0 to 10000")
        if not 60 <= max_record_age.to_seconds() <= 604800:
            raise ValueError("StreamConsumer max_record_age: allowed 1 minute to 7 days")
        if not 0 <= max_batching_window.to_seconds() <= 300:
            raise ValueError("StreamConsumer max_batching_window: allowed 0 to 300 seconds")
        stream_retention = stream_retention or _retention_of(stream)
        window = stream_retention.to_seconds() - max_record_age.to_seconds()
        minimum = (min_replay_window or Duration.hours(1)).to_seconds()
        if window < minimum:
            raise ValueError(
                f"StreamConsumer stream_retention={stream_retention.to_hours():g} h with max_record_age="
                f"{max_record_age.to_seconds() / 3600:g} h leaves {window / 3600:g} h to replay a failed batch:"
                f" allowed a retention of at least {(max_record_age.to_seconds() + minimum) / 3600:g} h")
        self.replay_window = Duration.seconds(window)
        self.function, self.stream = function, stream

        self.dead_letter_queue = sqs.Queue(
            self, "FailedBatches", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
            enforce_ssl=True, retention_period=Duration.days(14))
        acknowledge(self.dead_letter_queue, "SQS3",
                    "This queue is itself the on-failure destination of the event source "
                    "mapping; it holds the metadata of batches that exhausted their retries")
        keys = [k for k in (stream.encryption_key, key) if k is not None]
        self.statements = [
            iam.PolicyStatement(actions=list(READ_STREAM), resources=[stream.stream_arn]),
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]),
            # Decrypt to read the stream; GenerateDataKey (and Decrypt) to send to the queue.
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                resources=list(dict.fromkeys(k.key_arn for k in keys)))]
        self.policy = None if function.role is None else iam.Policy(
            self, "ConsumerAccess", roles=[function.role], statements=self.statements)
        self.mapping = lambda_.CfnEventSourceMapping(
            self, "Mapping", function_name=function.function_name, event_source_arn=stream.stream_arn,
            starting_position="TRIM_HORIZON", batch_size=batch_size,
            maximum_batching_window_in_seconds=int(max_batching_window.to_seconds()),
            bisect_batch_on_function_error=True, maximum_retry_attempts=retry_attempts,
            maximum_record_age_in_seconds=int(max_record_age.to_seconds()),
            function_response_types=["ReportBatchItemFailures"],
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(
                    destination=self.dead_letter_queue.queue_arn)))
        if self.policy is not None:  # Lambda checks the role can read the stream when the mapping is created
            self.mapping.node.add_dependency(self.policy)

        self.iterator_age_alarm = alarm_when(
            self, "IteratorAge", topic=alarm_topic, above=iterator_age_alarm.to_milliseconds(),
            metric=function.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1)),
            periods=5, description="The consumer is falling behind the stream")
        # On messages arriving, not waiting: nothing drains this queue, so a "waiting"
        # alarm would stay in ALARM after the first failure and never notify again.
        self.dead_letter_alarm = alarm_when(
            self, "FailedBatchesAlarm", topic=alarm_topic, above=0,
            metric=self.dead_letter_queue.metric_number_of_messages_sent(period=FIVE_MINUTES, statistic="Sum"),
            description="Records exhausted their retries; their metadata went to the failure queue")
        self.errors_alarm = alarm_when(
            self, "Errors", topic=alarm_topic, above=0,
            metric=function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            description="The consumer function raised errors")
        self.throttles_alarm = alarm_when(
            self, "Throttles", topic=alarm_topic, above=0,
            metric=function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            description="The consumer function was throttled")
        # The queue's age is the batch's time since it failed; its records expire from the
        # stream within `replay_window` of that. Warn a day (or half the window) ahead.
        warn_after = window - min(86400, window / 2)
        self.replay_deadline_alarm = alarm_when(
            self, "FailedBatchNearExpiry", topic=alarm_topic, above=warn_after,
            metric=self.dead_letter_queue.metric_approximate_age_of_oldest_message(
                period=FIVE_MINUTES, statistic="Maximum"),
            description=f"A failed batch has waited {warn_after / 3600:g} h: its records leave the stream "
                        f"within {(window - warn_after) / 3600:g} h. Run `refarch replay` for this stack now")
        self.alarms: list[cloudwatch.Alarm] = [self.iterator_age_alarm, self.dead_letter_alarm,
                                               self.errors_alarm, self.throttles_alarm,
                                               self.replay_deadline_alarm]

    def outputs(self) -> dict[str, str]:
        """The stack outputs `refarch replay` reads (names as refarch.replay expects them)."""
        return {"FailedBatchesQueueUrl": self.dead_letter_queue.queue_url,
                "ConsumerFunctionName": self.function.function_name,
                "ConsumedStreamName": self.stream.stream_name}


def _retention_of(stream: kinesis.IStream) -> Duration:
    """The retention a Stream of this app was given (Kinesis's default of 24 hours if none)."""
    child = stream.node.default_child
    hours = getattr(child, "retention_period_hours", None) if isinstance(child, kinesis.CfnStream) else None
    return Duration.hours(hours or 24)
