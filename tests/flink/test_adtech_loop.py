"""The AdTech closed loop (refarch/local/adtech.py): the real API handler, the job on PyFlink and
the real updater, round after round. Three rounds at the demo's traffic: the same seeded rounds
the demo starts with, so the loop has converged by the third (the demo shows ten)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from refarch.config import AdTechSettings
from refarch.local.adtech import run_adtech
from refarch.local.generators.ad_traffic import TRUE_CTR, arrival_order, serve_round
from refarch.local.reports.adtech import AdTechLoopMismatch, AdTechLoopReport, RoundStats

flink = pytest.mark.flink


@pytest.fixture(scope="module")
def loop(flink_env, tmp_path_factory) -> AdTechLoopReport:
    return run_adtech(AdTechSettings(), rounds=3, decisions_per_placement=2000, table_env=flink_env,
                      plot_dir=tmp_path_factory.mktemp("plot"))


@flink
def test_the_best_ads_take_most_impressions_by_the_third_round(loop):
    shares = [round(r.best_share, 3) for r in loop.rounds]
    assert shares[0] < 0.1 and shares[-1] >= 0.8   # round 0 had no ranking: the fallback, and exploration
    assert loop.rounds[0].decisions["fallback"] > 0 and loop.rounds[-1].decisions["fallback"] == 0
    assert loop.final_rankings["home-top"][0] == "ad-b" and loop.final_rankings["article-side"][0] == "ad-a"


@flink
def test_every_event_is_accounted_for_each_round(loop):
    for r in loop.rounds:
        counted = sum(r.job_counts.values())
        assert counted == r.events_sent
        assert r.job_counts["impressions"] == r.injected["impressions"] == 4000
        assert r.job_counts["unattributed_clicks"] == r.injected["ghost_clicks"] == 6
        assert r.dead_letters.get("late", 0) == r.injected["late_clicks"]
        assert r.redelivery_changed_nothing
    assert [r.injected["late_clicks"] for r in loop.rounds] == [0, 0, 2]   # clicks two rounds late


@flink
def test_the_api_reads_each_placement_once_a_round_and_regret_grows_slower(loop):
    assert loop.dynamodb_reads == 2 * 3
    regret = [r.regret for r in loop.rounds]
    assert regret[-1] < regret[0] / 2


@flink
def test_the_report_prints_rounds_and_writes_the_plot(loop):
    lines = loop.summary_lines()
    assert lines[0].split()[:3] == ["round", "shown", "best-ad"]
    assert any("every event accounted for" in line for line in lines)
    assert lines[-1] == f"plot: {loop.plot}"
    assert loop.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the report and the ad server: no JVM ---------------------------------------------

def test_a_report_whose_best_share_stays_low_raises():
    round_stats = RoundStats(0, {p: Counter({"ad-c": 10}) for p in TRUE_CTR}, 0, Counter({"exploit": 20}), 1.0,
                             20, Counter({"impressions": 20}), {"impressions": 20}, {}, 5, True)
    with pytest.raises(AdTechLoopMismatch, match="below 80%"):
        AdTechLoopReport([round_stats], 0.8, None, 0)


def test_a_round_sends_resends_double_clicks_ghosts_and_malformed_records_in_arrival_order():
    class FixedApi:
        @staticmethod
        def handler(event, context):
            return {"body": '{"ad_id": "ad-a", "decision": "exploit"}'}

    played = serve_round(0, FixedApi, random.Random(3), 500, "house-ad", {})
    lines = arrival_order(played)
    assert len(lines) == sum(played.injected[k] for k in (
        "impressions", "resent_impressions", "clicks", "resent_clicks", "double_clicks", "ghost_clicks", "malformed"))
    assert played.injected["impressions"] == 1000 and played.injected["ghost_clicks"] == 6
    assert lines[-2:] == played.appended[-2:]   # the malformed records come last
