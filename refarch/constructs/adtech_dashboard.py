"""CloudWatch dashboard for the ad-tech loop: ingest, the Flink job, the updater's writes and
rejections, and the placement API, one row each."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

MINUTE = Duration.minutes(1)


def updater_metric(name: str, service: str, period: Duration = MINUTE) -> cw.Metric:
    """A count the updater publishes with Powertools (namespace refarch, dimension service)."""
    return cw.Metric(namespace="refarch", metric_name=name, dimensions_map={"service": service},
                     statistic="Sum", period=period)


class AdTechLoopDashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, events: kinesis.IStream, dead_letters: kinesis.IStream,
                 application_name: str, updater: lambda_.IFunction, updater_service: str,
                 table: dynamodb.ITable, api: apigateway.RestApi, api_function: lambda_.IFunction) -> None:
        super().__init__(scope, id)
        flink = lambda name, statistic: cw.Metric(  # noqa: E731
            namespace="AWS/KinesisAnalytics", metric_name=name, statistic=statistic, period=MINUTE,
            dimensions_map={"Application": application_name})
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Ingest: ad events in, throttled puts", width=12, left=[
                events.metric_incoming_records(period=MINUTE, statistic="Sum")], right=[
                events.metric_write_provisioned_throughput_exceeded(period=MINUTE, statistic="Sum")]),
            cw.GraphWidget(title="Dead letters (rejected by the job, with a reason)", width=12, left=[
                dead_letters.metric_incoming_records(period=MINUTE, statistic="Sum")]))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Flink: lag behind the source (ms)", width=8, left=[
                flink("millisBehindLatest", "Maximum")]),
            cw.GraphWidget(title="Flink: downtime and failed checkpoints", width=8, left=[
                flink("downtime", "Maximum"), flink("numberOfFailedCheckpoints", "Maximum")]),
            cw.GraphWidget(title="Flink: CPU and heap (%)", width=8, left=[
                flink("cpuUtilization", "Average"), flink("heapMemoryUtilization", "Average")]))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Updater: rankings written", width=8, left=[
                updater_metric(n, updater_service) for n in ("RankingsReplaced", "RankingsMerged")]),
            cw.GraphWidget(title="Updater: conditional-check rejections", width=8, left=[
                updater_metric(n, updater_service) for n in ("StaleWindowsRejected", "RedeliveredWindows")] + [
                table.metric("ConditionalCheckFailedRequests", period=MINUTE, statistic="Sum")]),
            cw.GraphWidget(title="Updater: errors, quarantined, iterator age", width=8, left=[
                updater.metric_errors(period=MINUTE, statistic="Sum"),
                updater_metric("RecordsQuarantined", updater_service)], right=[
                updater.metric("IteratorAge", period=MINUTE, statistic="Maximum")]))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Placement API: requests, 4xx, 5xx", width=8, left=[
                api.metric_count(period=MINUTE, statistic="Sum"),
                api.metric_client_error(period=MINUTE, statistic="Sum"),
                api.metric_server_error(period=MINUTE, statistic="Sum")]),
            cw.GraphWidget(title="Placement API: latency (ms)", width=8, left=[
                api.metric_latency(period=MINUTE, statistic="p50"), api.metric_latency(period=MINUTE, statistic="p99"),
                api.metric_integration_latency(period=MINUTE, statistic="p99")]),
            cw.GraphWidget(title="Placement function: duration p99 (ms) and throttles", width=8, left=[
                api_function.metric_duration(period=MINUTE, statistic="p99")], right=[
                api_function.metric_throttles(period=MINUTE, statistic="Sum")]))
