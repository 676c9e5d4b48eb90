"""CloudWatch dashboard for a stream -> Lambda -> DynamoDB telemetry path."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MINUTE = Duration.minutes(1)


class TelemetryDashboard(Construct):
    """Ingest rate, consumer lag, writer health, table throttles and alerts, one row each."""

    def __init__(self, scope: Construct, id: str, *, stream: kinesis.IStream,
                 writer: lambda_.IFunction, table: dynamodb.ITable, alert_topic: sns.ITopic,
                 quarantine: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Ingest: records into the stream", width=12, left=[
                stream.metric_incoming_records(period=MINUTE, statistic="Sum")]),
            cw.GraphWidget(title="Consumer lag: iterator age (ms)", width=12, left=[
                writer.metric("IteratorAge", period=MINUTE, statistic="Maximum"),
                stream.metric_get_records_iterator_age_milliseconds(period=MINUTE, statistic="Maximum")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Writer duration (ms)", width=8, left=[
                writer.metric_duration(period=MINUTE, statistic="p99"),
                writer.metric_duration(period=MINUTE, statistic="Average")]),
            cw.GraphWidget(title="Writer errors and throttles", width=8, left=[
                writer.metric_errors(period=MINUTE, statistic="Sum"),
                writer.metric_throttles(period=MINUTE, statistic="Sum")]),
            cw.GraphWidget(title="DynamoDB throttled requests", width=8, left=[
                table.metric("WriteThrottleEvents", period=MINUTE, statistic="Sum"),
                table.metric("ReadThrottleEvents", period=MINUTE, statistic="Sum")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Alerts sent", width=12, left=[
                alert_topic.metric_number_of_messages_published(period=MINUTE, statistic="Sum")]),
            cw.GraphWidget(title="Quarantined readings waiting", width=12, left=[
                quarantine.metric_approximate_number_of_messages_visible(period=MINUTE, statistic="Maximum")]),
        )
