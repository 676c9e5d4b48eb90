"""Every stack's dashboard, from cdklabs' cdk-monitoring-constructs.

`monitor_data_path(stack)` (called once per stack by the app) finds the data-path
resources a stack holds (streams, functions, tables, queues, topics, delivery streams,
Glue jobs, Redshift clusters, Flink applications, buckets, flow-log groups) and gives each
the library's standard section on one dashboard per stack, so a stack added later gets
its dashboard without a line of its own.

Alarms stay with the constructs that own the failure paths (refarch/constructs/alarms.py),
each notifying the stack's ops topic: the library has none for what these stacks alarm on
(Firehose delivery, freshness and format conversion; arrivals in an undrained failure
queue; Glue run outcomes; Redshift health; Flink source lag; IoT rule action failures).
"""

from __future__ import annotations

import cdk_monitoring_constructs as cmc
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisanalyticsv2 as flink
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from refarch.constructs.checkov import CDK_PROVIDER_IDS

DASHBOARD_ID = "Monitoring"
MONITORED = (kinesis.Stream, firehose.CfnDeliveryStream, lambda_.Function, dynamodb.Table, dynamodb.TableV2,
             sqs.Queue, sns.Topic, glue.CfnJob, redshift.CfnCluster, flink.CfnApplication, s3.Bucket, logs.LogGroup)


def monitor_data_path(stack: Stack) -> cmc.MonitoringFacade:
    """One dashboard named after the stack with a section per data-path resource."""
    facade = cmc.MonitoringFacade(stack, DASHBOARD_ID, dashboard_factory=cmc.DefaultDashboardFactory(
        stack, f"{DASHBOARD_ID}Dashboards", dashboard_name_prefix=stack.stack_name,
        create_dashboard=True, create_summary_dashboard=False, create_alarm_dashboard=False))
    facade.add_large_header(f"{stack.stack_name}: data path")
    constructs = stack.node.find_all()
    flow_log_groups = {c.log_group_name for c in constructs if isinstance(c, ec2.CfnFlowLog)}
    for construct in _data_path(constructs, stack):
        names = {"human_readable_name": _path(stack, construct), "alarm_friendly_name": _path(stack, construct)}
        if isinstance(construct, kinesis.Stream):
            facade.monitor_kinesis_data_stream(stream_name=construct.stream_name, **names)
        elif isinstance(construct, firehose.CfnDeliveryStream):
            facade.monitor_kinesis_firehose(delivery_stream_name=construct.delivery_stream_name,
                                            is_data_format_conversion_enabled=True, **names)
        elif isinstance(construct, lambda_.Function):
            facade.monitor_lambda_function(lambda_function=construct, **names)
        elif isinstance(construct, (dynamodb.Table, dynamodb.TableV2)):
            facade.monitor_dynamo_table(table=construct, **names)
        elif isinstance(construct, sqs.Queue):
            facade.monitor_sqs_queue(queue=construct, **names)
        elif isinstance(construct, sns.Topic):
            facade.monitor_sns_topic(topic=construct, **names)
        elif isinstance(construct, glue.CfnJob):
            facade.monitor_glue_job(job_name=construct.name, **names)
        elif isinstance(construct, redshift.CfnCluster):
            facade.monitor_redshift_cluster(cluster_identifier=construct.cluster_identifier, **names)
        elif isinstance(construct, flink.CfnApplication):
            facade.monitor_kinesis_data_analytics(application=construct.ref, **names)
        elif isinstance(construct, s3.Bucket):
            facade.monitor_s3_bucket(bucket=construct, **names)
        elif isinstance(construct, logs.LogGroup) and construct.log_group_name in flow_log_groups:
            facade.monitor_log(log_group_name=construct.log_group_name, human_readable_name="VPC flow logs",
                               alarm_friendly_name="FlowLogs",
                               pattern="REJECT", title="Rejected connections (flow logs)")
    return facade


def _data_path(constructs: list[IConstruct], stack: Stack) -> list[IConstruct]:
    """The monitored constructs, without aws-cdk-lib's provider functions. The type test
    runs first: it is local, where every path lookup is a call into the jsii runtime."""
    providers = [stack.node.try_find_child(child) for child in CDK_PROVIDER_IDS]
    provider_paths = tuple(p.node.path + "/" for p in providers if p is not None)
    return [c for c in constructs if isinstance(c, MONITORED)
            and not (isinstance(c, lambda_.Function) and (c.node.path + "/").startswith(provider_paths))]


def _path(stack: Stack, construct: IConstruct) -> str:
    return construct.node.path.removeprefix(stack.node.path + "/")
