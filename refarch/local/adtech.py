"""AdTech, run locally: a closed loop of rounds between simulated users, the real placement
API handler, the ad-tech Flink job on PyFlink and the real placement updater, on moto DynamoDB.

Each round:
  1. the ad server asks the placement API handler (lambda/placement_api, called as API Gateway
     would) which of its candidate ads to show, once per page view of each placement;
  2. simulated users, each ad with a hidden true CTR, click or not; the ad server emits the
     impression and click events, with what real traffic carries: re-sent impressions and
     clicks, double clicks, clicks naming no impression, clicks arriving 10 minutes late,
     and a few malformed records;
  3. the ad-tech job runs on local PyFlink over the round's events (refarch/local/adtech_job.py
     checks every window and dead letter it writes against its model);
  4. the placement updater handler (lambda/placement_updater) receives the windows as Kinesis
     events, in order and in batches, and writes the rankings; the last batch is delivered
     a second time, as Kinesis may, and must change nothing;
  5. the next round begins, five minutes of event time later (one window size, so every
     window of a round is newer than the last round's, and holds that round's events).

The report prints per round the share of impressions on each placement's best ad, the
observed CTR and the cumulative (expected) regret, saves a plot of both, and checks that
every event is accounted for and that the best ad's share reaches `required_share` by the
last round.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from refarch.lambda_code import load_lambda_module
from refarch.local.adtech_job import run_adtech_job
from refarch.local.engines.lambda_events import kinesis_producer_event
from refarch.local.engines.lambda_runtime import FAKE_AWS, QUIET_POWERTOOLS, LocalContext, environment
from refarch.local.engines.moto_aws import count_calls
from refarch.local.flink_sql import streaming_table_env
from refarch.local.generators.ad_traffic import ROUND, TRUE_CTR, arrival_order, serve_round
from refarch.local.reports.adtech import AdTechLoopMismatch, AdTechLoopReport, RoundStats, plot_loop

PLACEMENTS_KEY = "placement_id"
TABLE, QUARANTINE = "placements", "placement-updater-quarantine"


def create_placements_table(client: Any, name: str) -> None:
    """The placements table as the stack creates it (key placement_id, TTL on expires_at)."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": PLACEMENTS_KEY, "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": PLACEMENTS_KEY, "AttributeType": "S"}])
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})


def run_adtech(settings: Any = None, *, rounds: int = 5, decisions_per_placement: int = 2000, seed: int = 13,
               required_share: float = 0.8, table_env: Any = None, plot_dir: Path | None = None,
               plot: bool = True) -> AdTechLoopReport:
    """The closed loop with the AdTech settings (default: the settings' defaults)."""
    if settings is None:
        from refarch.config import AdTechSettings
        settings = AdTechSettings()
    if not 1 <= rounds <= 100 or not 10 <= decisions_per_placement <= 100_000:
        raise ValueError(f"rounds={rounds} (1 to 100), decisions_per_placement={decisions_per_placement} "
                         "(10 to 100000)")
    try:   # the emulator and the handlers' runtime library are development extras
        import aws_lambda_powertools  # noqa: F401
        import boto3
        from moto import mock_aws
    except ImportError as missing:
        raise ImportError(f"the AdTech local run needs {missing.name}: pip install -e '.[dev]'") from missing
    rng = random.Random(seed)
    env = table_env if table_env is not None else streaming_table_env()
    with environment({**FAKE_AWS, **QUIET_POWERTOOLS}), mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_placements_table(dynamodb, TABLE)
        queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName=QUARANTINE)["QueueUrl"]
        with environment(_handler_environment(settings, queue)):
            updater = load_lambda_module("placement_updater", "placement_updater")
            api = load_lambda_module("placement_api", "placement_api")
            updater._wiring.cache_clear()
            api._wiring.cache_clear()
            saved_clock, saved_rng = api.clock, api.rng
            reads = count_calls("GetItem")
            try:
                api.rng = random.Random(seed + 1)
                stats = []
                history: dict[int, list[dict]] = {}
                for number in range(rounds):
                    api.clock = lambda number=number: number * ROUND.total_seconds()   # simulated time
                    stats.append(_play(number, api, updater, rng, settings, env, decisions_per_placement,
                                       history, dynamodb))
            finally:
                api.clock, api.rng = saved_clock, saved_rng
                reads.stop()
            final = {p: _ranked(dynamodb, p) for p in TRUE_CTR}
    figure = plot_loop(stats, plot_dir) if plot else None
    return AdTechLoopReport(stats, required_share, figure, reads.count, final)


def _handler_environment(settings: Any, queue_url: str) -> dict[str, str]:
    return {"TABLE_NAME": TABLE, "QUARANTINE_QUEUE_URL": queue_url, "PRIOR_CTR": str(settings.prior_ctr),
            "PRIOR_IMPRESSIONS": str(settings.prior_impressions), "MIN_IMPRESSIONS": str(settings.min_impressions),
            "RANKING_TTL_HOURS": str(settings.ranking_ttl_hours),
            "EXPLORATION_SHARE": str(settings.exploration_share), "FALLBACK_AD": settings.fallback_ad,
            "CACHE_SECONDS": str(settings.api_cache_seconds)}


def _play(number: int, api: Any, updater: Any, rng: random.Random, settings: Any, env: Any,
          decisions_per_placement: int, history: dict, dynamodb: Any) -> RoundStats:
    played = serve_round(number, api, rng, decisions_per_placement, settings.fallback_ad, history)
    lines = arrival_order(played)
    run = run_adtech_job(lines, attribution_minutes=settings.attribution_minutes, table_env=env)
    rows = sorted(run.ctr_rows, key=lambda r: (r["window_end"], r["placement_id"], r["ad_id"]))
    batch = settings.batch_size
    last = None
    for start in range(0, len(rows), batch):
        last = _windows_event(rows[start:start + batch], start)
        response = updater.handler(last, LocalContext("placement-updater"))
        if response["batchItemFailures"]:
            raise AdTechLoopMismatch(f"round {number}: the updater failed {response['batchItemFailures']}")
    before = _scan(dynamodb)
    if last is not None:
        updater.handler(last, LocalContext("placement-updater"))   # Kinesis delivers at least once
    return RoundStats(number, played.impressions, played.clicks, played.decisions, played.regret, len(lines),
                      played.injected, run.counts, run.dead_letter_reasons, len(rows), _scan(dynamodb) == before)


def _scan(dynamodb: Any) -> list[dict]:
    return sorted(dynamodb.scan(TableName=TABLE)["Items"], key=lambda i: i[PLACEMENTS_KEY]["S"])


def _ranked(dynamodb: Any, placement: str) -> list[str]:
    item = dynamodb.get_item(TableName=TABLE, Key={PLACEMENTS_KEY: {"S": placement}}).get("Item", {})
    ranking = item.get("ranking", {}).get("M", {})
    return sorted(ranking, key=lambda ad: (-float(ranking[ad]["M"]["score"]["N"]), ad))


def _windows_event(rows: Sequence[dict], first: int) -> dict:
    """CTR window rows as the updater receives them: JSON records on the stream, keyed by placement."""
    return kinesis_producer_event([(row["placement_id"], json.dumps(
        {k: (v.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(v, datetime) else v) for k, v in row.items()}).encode())
        for row in rows], first_sequence=first)
