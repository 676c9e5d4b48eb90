"""`refarch cost`: each line item's arithmetic on fixed inputs, and a table for every stack."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console

from refarch.config import SettingError, Settings, settings_from_context
from refarch.costs.deployed import deployed_items, runs_per_month
from refarch.costs.estimate import estimate_stacks, top_items
from refarch.costs.flows import firehose_items, iot_items, lake_items, warehouse_items
from refarch.costs.load import CostSettings
from refarch.costs.model import LineItem
from refarch.costs.prices import PriceSettings
from refarch.costs.report import print_estimates, summary_table, templates_of

PRICES = PriceSettings()


def lines(items) -> dict[str, tuple[float, float, float]]:
    """item -> (quantity, unit price, monthly USD), rounded to cents of a cent."""
    return {i.item: (round(i.quantity, 6), i.unit_price, round(i.monthly_usd, 4)) for i in items}


def test_a_line_costs_its_quantity_times_its_unit_price():
    assert LineItem("x", 730, "shard-hour", 0.015).monthly_usd == pytest.approx(10.95)
    assert LineItem("x", 0, "GB", 5.0).monthly_usd == 0


TEMPLATE = {"Resources": {
    "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 2, "RetentionPeriodHours": 168}},
    "Short": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1, "RetentionPeriodHours": 24}},
    "OnDemand": {"Type": "AWS::Kinesis::Stream", "Properties": {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}}},
    "Sqs": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b", "c"]}},
    "Logs": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b", "c"]}},
    "S3": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}},
    "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
    "A1": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
    "A2": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
    "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
    "Trail": {"Type": "AWS::CloudTrail::Trail", "Properties": {}},
    "Flink": {"Type": "AWS::KinesisAnalyticsV2::Application", "Properties": {"ApplicationConfiguration": {
        "FlinkApplicationConfiguration": {"ParallelismConfiguration": {"Parallelism": 4, "ParallelismPerKPU": 2}}}}},
    "Cluster": {"Type": "AWS::Redshift::Cluster", "Properties": {
        "NodeType": "ra3.4xlarge", "NumberOfNodes": 2, "ClusterType": "multi-node", "ManageMasterPassword": True}},
    "Search": {"Type": "AWS::OpenSearchService::Domain", "Properties": {
        "ClusterConfig": {"InstanceType": "r6g.large.search", "InstanceCount": 3, "DedicatedMasterEnabled": True,
                          "DedicatedMasterType": "m6g.large.search", "DedicatedMasterCount": 3},
        "EBSOptions": {"VolumeSize": 100}}},
}}


def test_each_deployed_line_is_priced_from_the_template():
    assert lines(deployed_items(TEMPLATE, PRICES)) == {
        "Kinesis shard-hours": (3 * 730, 0.015, 32.85),                    # 2 + 1 provisioned shards
        "Kinesis extended retention": (2 * 730, 0.02, 29.2),               # the 168 h stream only
        "Kinesis on-demand stream-hours": (730, 0.04, 29.2),
        "VPC interface endpoint hours": (2 * 3 * 730, 0.01, 43.8),          # gateway endpoints are free
        "Managed Flink KPU-hours": ((2 + 1) * 730, 0.11, 240.9),            # 4 / 2 per KPU, + orchestration
        "Managed Flink running storage": (2 * 50, 0.10, 10.0),
        "Redshift ra3.4xlarge node-hours": (2 * 730, 3.26, 4759.6),
        "Secrets Manager secret (admin password)": (1, 0.40, 0.4),
        "OpenSearch r6g.large.search instance-hours": (3 * 730, 0.167, 365.73),
        "OpenSearch m6g.large.search master-hours": (3 * 730, 0.128, 280.32),
        "OpenSearch storage": (300, 0.122, 36.6),
        "KMS customer-managed keys": (1, 1.0, 1.0),
        "CloudWatch alarms": (2, 0.10, 0.2),
        "CloudWatch dashboards": (1, 3.0, 3.0),
        "CloudTrail management events (first copy free)": (1, 0.0, 0.0),
    }


def test_prices_come_from_the_price_settings():
    settings = settings_from_context({"price_endpoint_az_hour": "0.02", "price_redshift_ra3_4xlarge_hour": "1"})
    priced = lines(deployed_items(TEMPLATE, settings.prices))
    assert priced["VPC interface endpoint hours"] == (4380, 0.02, 87.6)
    assert priced["Redshift ra3.4xlarge node-hours"] == (1460, 1.0, 1460.0)


@pytest.mark.parametrize("schedule, runs", [
    ("cron(0 2 * * ? *)", 30.4),                  # nightly
    ("cron(0 */6 * * ? *)", 4 * 30.4),            # every six hours
    ("cron(0,30 8-9 * * ? *)", 4 * 30.4),         # two minutes x two hours
    ("cron(0 2 ? * MON-FRI *)", 5 * 30.4 / 7),    # weekdays
    ("cron(0 2 1,15 * ? *)", 2 * 30.4 / 31),      # two days of the month
])
def test_a_schedule_says_how_often_a_job_runs_a_month(schedule, runs):
    assert runs_per_month(schedule) == pytest.approx(runs)


def test_iot_flows_at_a_fixed_load():
    settings = settings_from_context({"iot_records_per_second": "100", "iot_ttl_days": "10"})
    template = {"Resources": {"WriterFunctionABC": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 1024}}}}
    readings = 100 * 730 * 3600                                  # 262,800,000 a month
    got = lines(iot_items(settings, CostSettings(), template, PRICES, idle=False))
    assert got["Kinesis PUT payload units"] == (262.8, 0.014, 3.6792)                # one 25 KB unit each
    invocations = 730 * 3600                                     # one shard, one batch a second (100 < batch 100)
    assert got["Lambda writer requests"] == (invocations / 1e6, 0.20, round(invocations / 1e6 * 0.2, 4))
    gb_seconds = invocations * (50 + 1 * 100) / 1000 * 1.0       # 150 ms at 1 GB
    assert got["Lambda writer compute"] == (gb_seconds, PRICES.lambda_gb_second, round(gb_seconds * PRICES.lambda_gb_second, 4))
    assert got["DynamoDB write request units"] == (2 * readings / 1e6, 0.625, round(2 * readings / 1e6 * 0.625, 4))
    assert got["DynamoDB read request units"] == (readings / 1e6, 0.125, 32.85)
    gb = 100 * 86400 * 10 * 200 / 1e9                            # ten days (the TTL) of 200-byte items
    assert got["DynamoDB storage"] == (round(gb, 6), 0.25, round(gb * 0.25, 4))
    assert got["DynamoDB point-in-time recovery"] == (round(gb, 6), 0.20, round(gb * 0.20, 4))
    assert list(iot_items(settings, CostSettings(), template, PRICES, idle=True)) == []


def test_firehose_flows_round_records_to_5_kb_and_convert_what_arrives():
    cost = CostSettings(firehose_records_per_second=10, firehose_record_size_kb=0.5, month=2)
    template = {"Resources": {"TransformFunctionX": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 1024}}}}
    records = 10 * 730 * 3600
    got = lines(firehose_items(Settings(), cost, template, PRICES, idle=False))
    assert got["Firehose ingestion"] == (round(records * 5 / 1024 / 1024, 6), 0.029, round(records * 5 / 1048576 * 0.029, 4))
    gb = records * 0.5 / 1024 / 1024
    assert got["Firehose Parquet conversion"] == (round(gb, 6), 0.018, round(gb * 0.018, 4))
    assert got["Firehose dynamic partitioning"] == (round(gb, 6), 0.02, round(gb * 0.02, 4))
    assert got["Firehose delivered objects"] == (8.76, 0.005, 0.0438)         # one object per 300 s flush
    assert got["S3 access-log Parquet, Standard"] == (round(gb * 0.2 * 2, 6), 0.023, round(gb * 0.4 * 0.023, 4))
    backup = gb * 0.1 * (2 * 30.4) / 30.4                       # two months, under the 90 days kept
    assert got["S3 raw/ source backup, Standard"] == (round(backup, 6), 0.023, round(backup * 0.023, 4))
    invocations = records / 600                                  # 600 records fill the 60 s buffer first
    assert got["Lambda transform requests"][0] == pytest.approx(invocations / 1e6)


LAKE = {"Resources": {
    "Job": {"Type": "AWS::Glue::Job", "Properties": {"WorkerType": "G.2X", "NumberOfWorkers": 3}},
    "Nightly": {"Type": "AWS::Glue::Trigger", "Properties": {"Type": "SCHEDULED", "Schedule": "cron(0 2 * * ? *)"}},
    "After": {"Type": "AWS::Glue::Trigger", "Properties": {"Type": "CONDITIONAL"}},
    "Raw": {"Type": "AWS::Glue::Crawler", "Properties": {}},
    "Partitions": {"Type": "AWS::Glue::Crawler", "Properties": {}},
}}


def test_lake_flows_price_job_minutes_crawls_tiered_storage_and_scans():
    cost = CostSettings(lake_raw_gb_per_day=2, lake_job_minutes=15, lake_athena_tb_per_month=0.5, month=6)
    got = lines(lake_items(Settings(), cost, LAKE, PRICES, idle=False))
    assert got["Glue ETL job DPU-hours"] == (round(30.4 * 15 / 60 * 6, 6), 0.44, round(30.4 * 15 / 60 * 6 * 0.44, 4))
    assert got["Glue crawler DPU-hours"] == (round(30.4 * 2 * 10 / 60 * 2, 6), 0.44, round(30.4 * 40 / 60 * 0.44, 4))
    days = 6 * 30.4                                              # 182.4 days of raw data
    assert got["S3 raw zone, Intelligent-Tiering frequent"] == (60.0, 0.023, 1.38)
    assert got["S3 raw zone, Intelligent-Tiering infrequent"] == (120.0, 0.0125, 1.5)
    assert got["S3 raw zone, Intelligent-Tiering archive instant"] == (round(2 * (days - 90), 6), 0.004, round(2 * (days - 90) * 0.004, 4))
    assert got["S3 curated zone, Intelligent-Tiering frequent"] == (18.0, 0.023, 0.414)     # 0.3 of raw
    assert got["Athena data scanned"] == (0.5, 5.0, 2.5)
    idle = lines(lake_items(Settings(), cost, LAKE, PRICES, idle=True))
    assert set(idle) == {"Glue ETL job DPU-hours", "Glue crawler DPU-hours"}                 # no data, still runs
    assert idle["Glue ETL job DPU-hours"][0] == pytest.approx(30.4 * 1 / 60 * 6)              # its 1-minute minimum


def test_the_warehouse_loads_after_each_etl_run_and_stores_its_tables():
    got = lines(warehouse_items(Settings(), CostSettings(warehouse_storage_gb=500), {"Resources": {}}, PRICES,
                                idle=False, lake_runs=30.4))
    assert got["Redshift managed storage"] == (500, 0.024, 12.0)
    assert got["Lambda loader compute"] == (round(30.4 * 60 * 0.5, 6), PRICES.lambda_gb_second,
                                            round(30.4 * 60 * 0.5 * PRICES.lambda_gb_second, 4))


def test_a_bad_price_or_load_fails_naming_the_setting():
    with pytest.raises(SettingError, match=r"invalid setting price_glue_dpu_hour='-1': allowed a number from 0"):
        settings_from_context({"price_glue_dpu_hour": "-1"})
    with pytest.raises(SettingError, match=r"invalid setting cost_lake_job_minutes='0': allowed a number from 1"):
        settings_from_context({"cost_lake_job_minutes": "0"})
    with pytest.raises(SettingError, match=r"invalid setting cost_month='0': allowed a whole number from 1 to 120"):
        settings_from_context({"cost_month": "0"})


# --- every stack, from the session's synthesized app ----------------------------------------

def test_refarch_cost_prints_a_table_for_every_stack(synthesis):
    out = io.StringIO()
    estimates = print_estimates(Console(file=out, width=200), synthesis)
    text = out.getvalue()
    assert [e.stack for e in estimates] == list(synthesis.stacks)
    for estimate in estimates:
        assert f"{estimate.stack}: monthly cost" in text
        assert estimate.items and estimate.monthly_usd > 0
        assert all(item.monthly_usd == item.quantity * item.unit_price for item in estimate.items)
    assert "all stacks: $" in text and "us-east-1 on-demand list prices read 2025-06" in text


def test_the_baselines_endpoints_cost_what_the_settings_ask_for(synthesis):
    [baseline] = [e for e in estimate_stacks(synthesis.settings, templates_of(synthesis)) if e.stack == "SecurityBaseline"]
    endpoints = next(i for i in baseline.items if i.item == "VPC interface endpoint hours")
    expected = len(synthesis.settings.baseline.interface_endpoints) * 2 * 730          # 2 AZs by default
    assert (endpoints.quantity, endpoints.monthly_usd) == (expected, pytest.approx(expected * 0.01))


def test_an_idle_deployment_costs_less_and_carries_no_traffic_lines(synthesis):
    templates = templates_of(synthesis)
    loaded = {e.stack: e for e in estimate_stacks(synthesis.settings, templates)}
    idle = estimate_stacks(synthesis.settings, templates, idle=True)
    for estimate in idle:
        assert estimate.monthly_usd <= loaded[estimate.stack].monthly_usd
        assert not any(word in item.item for item in estimate.items
                       for word in ("PUT payload", "request units", "Firehose ingestion", "Athena"))
    top = top_items(idle)
    assert len(top) == 3 and top[0][1].monthly_usd >= top[1][1].monthly_usd >= top[2][1].monthly_usd


def test_refarch_synth_shows_each_stacks_cost_at_load_and_idle(synthesis):
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table(synthesis))
    for stack in synthesis.stacks:
        assert stack in out.getvalue()
    assert "all stacks" in out.getvalue()


def test_a_cheaper_price_setting_lowers_only_its_lines(synthesis):
    templates = templates_of(synthesis)
    cheaper = replace(synthesis.settings, prices=replace(synthesis.settings.prices, endpoint_az_hour=0.0))
    before = {e.stack: e.monthly_usd for e in estimate_stacks(synthesis.settings, templates)}
    after = {e.stack: e.monthly_usd for e in estimate_stacks(cheaper, templates)}
    assert after["SecurityBaseline"] < before["SecurityBaseline"]
    assert {s: v for s, v in after.items() if s != "SecurityBaseline"} == \
           {s: v for s, v in before.items() if s != "SecurityBaseline"}
