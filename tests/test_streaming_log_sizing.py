"""StreamingLogAnalytics sizing and settings: shards, Flink tasks and the search domain from the
expected load, and one-line errors for bad values."""

from __future__ import annotations

import pytest

from refarch.config import settings_from_context
from refarch.setting_parsers import SettingError
from refarch.streaming_log_sizing import flink_parallelism, monthly_costs, search_size, source_gb_per_day


def test_search_storage_follows_the_sizing_guide():
    # 100 events/s x 1 KB = 8.24 GB a day; x 30 days x 2 copies x 1.45 = 716.9 GB
    size = search_size(100, 1.0, retention_days=30, replicas=1, instance_type="r6g.large.search", azs=2)
    assert round(size.storage_gb, 1) == 716.9
    assert (size.nodes, size.volume_gb) == (2, 359)


def test_more_data_than_a_node_holds_adds_nodes_in_multiples_of_the_zones():
    size = search_size(1000, 2.0, retention_days=30, replicas=1, instance_type="r6g.large.search", azs=3)
    assert size.storage_gb > 14_000
    assert size.nodes % 3 == 0 and size.nodes * 1024 >= size.storage_gb and size.volume_gb <= 1024


def test_a_load_no_domain_can_hold_is_refused():
    with pytest.raises(ValueError, match="more than 80"):
        search_size(100_000, 10, retention_days=365, replicas=2, instance_type="t3.small.search", azs=2)


def test_flink_tasks_follow_the_rate():
    assert flink_parallelism(100, 2000) == 1 and flink_parallelism(5000, 2000) == 3


def test_the_cost_lines_use_the_prices_given():
    size = search_size(100, 1.0, retention_days=30, replicas=1, instance_type="r6g.large.search", azs=2)
    lines = {line.item: line for line in monthly_costs(
        events_per_second=100, event_size_kb=1.0, search=size, parallelism=1, raw_shards=1, clean_shards=1,
        kpu_hour_usd=0.11, search_gb_month_usd=0.122, firehose_gb_usd=0.029, shard_hour_usd=0.015,
        put_units_per_million_usd=0.014)}
    assert lines["Managed Flink"].monthly_usd == pytest.approx(2 * 730 * 0.11)
    assert lines["OpenSearch data nodes"].monthly_usd == pytest.approx(2 * 730 * 0.167)
    assert lines["OpenSearch storage"].monthly_usd == pytest.approx(2 * 359 * 0.122)
    assert lines["Firehose ingestion"].monthly_usd == pytest.approx(source_gb_per_day(100, 1.0) * 30 * 2 * 0.029)


def test_settings_size_the_pattern():
    settings = settings_from_context({"clickstream_events_per_second": "3000", "clickstream_event_size_kb": "1"})
    clickstream = settings.clickstream
    assert (clickstream.raw_shards, clickstream.clean_shards, clickstream.parallelism) == (3, 5, 2)


@pytest.mark.parametrize("key, value, allowed", [
    ("clickstream_allowed_origins", "http://shop.example.com", "https://host"),
    ("clickstream_batch_max", "501", "1 to 500"),
    ("clickstream_search_instance_type", "m5.large", "r6g.large.search"),
    ("clickstream_search_masters", "2", "0, 3, 5"),
    ("clickstream_burst_limit", "10", "at least clickstream_rate_limit (500)"),
])
def test_a_bad_setting_fails_with_one_line_naming_it(key, value, allowed):
    with pytest.raises(SettingError) as error:
        settings_from_context({key: value})
    message = str(error.value)
    assert "\n" not in message and key in message and allowed in message


def test_refarch_cost_shows_the_pattern_sized_from_the_settings():
    from typer.testing import CliRunner

    from refarch.cli import cli

    result = CliRunner().invoke(cli, ["cost", "-c", "clickstream_events_per_second=2000"])
    assert result.exit_code == 0, result.output
    assert "16 x r6g.large.search" in result.output and "2 KPUs (1 + 1 orchestration)" in result.output
    assert "2 + 3 shards" in result.output
