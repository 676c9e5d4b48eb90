"""Shards and stream cost from expected load."""

from __future__ import annotations

import pytest

from refarch.sizing import StreamLoad, monthly_stream_cost, shards_for


@pytest.mark.parametrize(("load", "shards"), [
    (StreamLoad(records_per_second=1, record_size_kb=0.1), 1),          # never fewer than one
    (StreamLoad(records_per_second=1000, record_size_kb=1), 1),         # exactly one shard's limits
    (StreamLoad(records_per_second=1001, record_size_kb=0.1), 2),       # records/s bound
    (StreamLoad(records_per_second=100, record_size_kb=25), 3),         # write KB/s bound: 2500/1000
    (StreamLoad(records_per_second=500, record_size_kb=2, consumers=5), 3),  # read bound: 5000/2000
])
def test_shards_are_the_ceiling_of_the_tightest_limit(load, shards):
    assert shards_for(load) == shards


def test_monthly_cost_adds_shard_hours_and_put_payload_units():
    # 100 records/s of 30 KB -> 2 payload units each; 3 shards (3000 KB/s / 1000).
    cost = monthly_stream_cost(StreamLoad(100, 30), shard_hour_usd=0.015, put_units_per_million_usd=0.014)
    assert cost.shards == 3
    assert cost.shard_hours == 3 * 730
    assert cost.put_payload_units_millions == pytest.approx(100 * 730 * 3600 * 2 / 1e6)
    assert cost.shard_hours_usd == pytest.approx(3 * 730 * 0.015)
    assert cost.put_units_usd == pytest.approx(525.6 * 0.014)
    assert cost.monthly_usd == pytest.approx(32.85 + 7.3584)


def test_explicit_shard_count_overrides_the_calculated_one():
    assert monthly_stream_cost(StreamLoad(10, 1), shards=4).shards == 4
