"""StreamingSqlAnalytics: the clickstream Flink SQL job between Kinesis streams (the ad-tech job
moved to the AdTech stack)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from refarch.config import StreamingSettings
from refarch.constructs.alarms import ops_topic
from refarch.constructs.flink_application import FlinkSqlApplication
from refarch.constructs.lifecycle import removal_policy
from refarch.constructs.stream import EncryptedStream
from refarch.constructs.outputs import add_outputs
from refarch.paths import FLINK_CONNECTOR_JAR, JOBS_ROOT

# job -> (source stream, sink streams by the name main.py's properties use)
JOBS = {
    "clickstream": ("ClickEvents", ("pageviews", "errorrate", "sessions", "alerts")),
}


class StreamingSqlStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: StreamingSettings, data_key: kms.IKey,
                 vpc: ec2.IVpc, retain_data: bool, log_retention_days: int, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        removal = removal_policy(retain=retain_data)
        self.ops_topic = ops_topic(self, "OpsTopic", key=data_key)
        self.applications: dict[str, FlinkSqlApplication] = {}
        self.streams = {}
        for job, (source_name, sink_names) in JOBS.items():
            source = self._stream(source_name, data_key, settings)
            sinks = {name: self._stream(f"{job.capitalize()}{name.capitalize()}", data_key, settings)
                     for name in sink_names}
            self.applications[job] = FlinkSqlApplication(
                self, f"{job.capitalize()}Job", jobs_root=JOBS_ROOT / "flink", job=job, source=source,
                sinks=sinks, key=data_key, vpc=vpc, log_retention_days=log_retention_days,
                removal_policy=removal, connector_jar=FLINK_CONNECTOR_JAR,
                parallelism=settings.parallelism, parallelism_per_kpu=settings.parallelism_per_kpu,
                autoscaling=settings.autoscaling,
                checkpoint_interval=Duration.seconds(settings.checkpoint_seconds),
                alarm_topic=self.ops_topic)
        add_outputs(self, {f"{name}StreamName": stream.stream_name for name, stream in self.streams.items()})

    def _stream(self, name: str, key: kms.IKey, settings: StreamingSettings):
        stream = EncryptedStream(self, name, key=key, shards=settings.shards,
                                 retention_hours=settings.retention_hours).stream
        self.streams[name] = stream
        return stream
