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

import base64
import json
import random
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from refarch.lambda_code import load_lambda_module
from refarch.local.adtech_job import run_adtech_job, streaming_table_env
from refarch.local.engines.lambda_runtime import FAKE_AWS, QUIET_POWERTOOLS, LocalContext, environment

PLACEMENTS_KEY = "placement_id"
TABLE, QUARANTINE = "placements", "placement-updater-quarantine"
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)   # fixed: a seeded run is reproducible
ROUND = timedelta(minutes=5)
SERVING = 30.0            # seconds of each round over which page views arrive
CLICK_DELAY = (1.0, 25.0)   # a click follows its impression by this many seconds
# Hidden true CTRs: each placement has its own best ad; the fallback (house) ad is clicked least.
TRUE_CTR: dict[str, dict[str, float]] = {
    "home-top": {"ad-a": 0.025, "ad-b": 0.08, "ad-c": 0.01, "ad-d": 0.04},
    "article-side": {"ad-a": 0.06, "ad-b": 0.015, "ad-c": 0.025, "ad-d": 0.01},
}
FALLBACK_CTR = 0.005
# What real traffic carries, per round and placement (rates of impressions or clicks).
RESENT_IMPRESSIONS, RESENT_CLICKS, DOUBLE_CLICKS = 0.02, 0.05, 0.02
GHOST_CLICKS, LATE_CLICKS, MALFORMED = 3, 2, 2


def create_placements_table(client: Any, name: str) -> None:
    """The placements table as the stack creates it (key placement_id, TTL on expires_at)."""
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": PLACEMENTS_KEY, "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": PLACEMENTS_KEY, "AttributeType": "S"}])
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})


class AdTechLoopMismatch(AssertionError):
    """The loop lost or double-counted an event, or did not converge."""


@dataclass(frozen=True)
class RoundStats:
    number: int
    impressions: dict[str, Counter]        # placement -> ad -> impressions shown
    clicks: int                            # first clicks by users (what the ad earned)
    decisions: Counter                     # exploit / explore / fallback
    regret: float                          # expected clicks lost against always showing the best ad
    events_sent: int
    injected: Counter                      # what the round's events hold, by kind (the truth)
    job_counts: dict[str, int]             # how the Flink job accounted for them
    dead_letters: dict[str, int]
    windows: int
    redelivery_changed_nothing: bool

    @property
    def shown(self) -> int:
        return sum(sum(c.values()) for c in self.impressions.values())

    @property
    def best_share(self) -> float:
        best = sum(self.impressions[p][max(TRUE_CTR[p], key=TRUE_CTR[p].get)] for p in self.impressions)
        return best / self.shown

    @property
    def observed_ctr(self) -> float:
        return self.clicks / self.shown


@dataclass(frozen=True)
class AdTechLoopReport:
    rounds: list[RoundStats]
    required_share: float
    plot: Path | None
    dynamodb_reads: int
    final_rankings: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise AdTechLoopMismatch("AdTech loop: " + "; ".join(problems))

    @property
    def cumulative_regret(self) -> list[float]:
        total, out = 0.0, []
        for r in self.rounds:
            total += r.regret
            out.append(total)
        return out

    def problems(self) -> list[str]:
        found = []
        for r in self.rounds:
            job, truth = r.job_counts, r.injected
            accounted = sum(job.get(k, 0) for k in ("dead_letters", "impressions", "impression_duplicates", "clicks",
                                                    "unattributed_clicks", "click_duplicates"))
            checks = {"events": (accounted, r.events_sent),
                      "impressions": (job.get("impressions", 0), truth["impressions"]),
                      "attributed clicks": (job.get("clicks", 0), truth["clicks"]),
                      "unattributed clicks": (job.get("unattributed_clicks", 0), truth["ghost_clicks"]),
                      "duplicates": (job.get("impression_duplicates", 0) + job.get("click_duplicates", 0),
                                     truth["resent_impressions"] + truth["resent_clicks"] + truth["double_clicks"]),
                      "dead letters": (job.get("dead_letters", 0), truth["late_clicks"] + truth["malformed"])}
            for what, (got, expected) in checks.items():
                if got != expected:
                    found.append(f"round {r.number}: {what} {got}, sent {expected}")
            if r.dead_letters.get("late", 0) != truth["late_clicks"]:
                found.append(f"round {r.number}: {r.dead_letters.get('late', 0)} late dead letters, "
                             f"{truth['late_clicks']} late clicks sent")
            if not r.redelivery_changed_nothing:
                found.append(f"round {r.number}: a redelivered batch changed the placements table")
        if self.rounds and self.rounds[-1].best_share < self.required_share:
            found.append(f"the best ads' share in the last round is {self.rounds[-1].best_share:.0%}, "
                         f"below {self.required_share:.0%}")
        return found

    def summary_lines(self) -> list[str]:
        lines = ["round  shown  best-ad share  observed CTR  cumulative regret  windows  dead letters  decisions"]
        for r, regret in zip(self.rounds, self.cumulative_regret, strict=True):
            decided = ", ".join(f"{k} {v}" for k, v in sorted(r.decisions.items()))
            lines.append(f"{r.number:>5}  {r.shown:>5}  {r.best_share:>13.1%}  {r.observed_ctr:>12.2%}  "
                         f"{regret:>17.1f}  {r.windows:>7}  {sum(r.dead_letters.values()):>12}  {decided}")
        sent = sum(r.events_sent for r in self.rounds)
        totals = Counter()
        for r in self.rounds:
            totals.update(r.job_counts)
        reasons = Counter()
        for r in self.rounds:
            reasons.update(r.dead_letters)
        lines += [
            f"events sent {sent}: {totals['impressions']} impressions, {totals['clicks']} attributed and "
            f"{totals['unattributed_clicks']} unattributed clicks, "
            f"{totals['impression_duplicates'] + totals['click_duplicates']} duplicates, "
            f"{totals['dead_letters']} dead letters ({', '.join(f'{k} {v}' for k, v in sorted(reasons.items()))})"
            " -- every event accounted for",
            f"placement API: {sum(sum(r.decisions.values()) for r in self.rounds)} decisions, "
            f"{self.dynamodb_reads} DynamoDB reads; every redelivered batch changed nothing",
            "final rankings: " + "; ".join(f"{p}: {' > '.join(ads)}" for p, ads in self.final_rankings.items()),
            f"best ads' share rose from {self.rounds[0].best_share:.0%} to {self.rounds[-1].best_share:.0%} "
            f"(required {self.required_share:.0%})"]
        if self.plot is not None:
            lines.append(f"plot: {self.plot}")
        return lines


# --- the ad server and its users ------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event(kind: str, impression: str, placement: str, ad: str, moment: datetime) -> dict:
    return {"event_type": kind, "impression_id": impression, "placement_id": placement, "ad_id": ad,
            "event_time": _iso(moment)}


def _api_event(placement: str, candidates: Sequence[str]) -> dict:
    return {"resource": "/placements/{placement_id}/ad", "httpMethod": "GET",
            "pathParameters": {"placement_id": placement}, "queryStringParameters": {"candidates": ",".join(candidates)}}


@dataclass
class _Round:
    events: list[tuple[datetime, str]] = field(default_factory=list)   # (arrival time, raw line)
    appended: list[str] = field(default_factory=list)                  # sent after everything else
    impressions: dict[str, Counter] = field(default_factory=dict)
    decisions: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    clicks: int = 0
    regret: float = 0.0


def serve_round(number: int, api: Any, rng: random.Random, decisions_per_placement: int, fallback: str,
                history: dict[int, list[dict]]) -> _Round:
    """One round of page views: decisions from the API handler, impressions, clicks and noise."""
    base = START + ROUND * number
    played = _Round()
    impressions_this_round = []
    for placement, truth in TRUE_CTR.items():
        shown: Counter = Counter()
        best = max(truth.values())
        for view in range(decisions_per_placement):
            answer = json.loads(api.handler(_api_event(placement, sorted(truth)), LocalContext("placement-api"))["body"])
            ad = answer["ad_id"]
            played.decisions[answer["decision"]] += 1
            shown[ad] += 1
            moment = base + timedelta(seconds=SERVING * view / decisions_per_placement)
            impression = _event("impression", f"r{number}-{placement}-{view}", placement, ad, moment)
            impressions_this_round.append(impression)
            played.events.append((moment, json.dumps(impression)))
            played.injected["impressions"] += 1
            ctr = truth.get(ad, FALLBACK_CTR)
            played.regret += best - ctr
            if rng.random() < RESENT_IMPRESSIONS:
                played.events.append((moment + timedelta(seconds=2), json.dumps(impression)))
                played.injected["resent_impressions"] += 1
            if rng.random() >= ctr:
                continue
            clicked = moment + timedelta(seconds=rng.uniform(*CLICK_DELAY))
            click = _event("click", impression["impression_id"], placement, ad, clicked)
            played.events.append((clicked, json.dumps(click)))
            played.clicks += 1
            played.injected["clicks"] += 1
            if rng.random() < RESENT_CLICKS:
                played.events.append((clicked + timedelta(seconds=3), json.dumps(click)))
                played.injected["resent_clicks"] += 1
            if rng.random() < DOUBLE_CLICKS:
                again = _event("click", impression["impression_id"], placement, ad, clicked + timedelta(seconds=1.5))
                played.events.append((clicked + timedelta(seconds=1.5), json.dumps(again)))
                played.injected["double_clicks"] += 1
        played.impressions[placement] = shown
        for ghost in range(GHOST_CLICKS):   # bots and stale links: clicks naming no impression
            moment = base + timedelta(seconds=rng.uniform(0, SERVING))
            played.events.append((moment, json.dumps(_event("click", f"ghost-{number}-{placement}-{ghost}",
                                                            placement, rng.choice(sorted(truth)), moment))))
            played.injected["ghost_clicks"] += 1
    history[number] = impressions_this_round
    for old in rng.sample(history.get(number - 2, []), min(LATE_CLICKS, len(history.get(number - 2, [])))):
        # A click on an impression two rounds back, sent now (a phone that was offline).
        moment = datetime.fromisoformat(old["event_time"].removesuffix("Z")).replace(tzinfo=UTC) + timedelta(seconds=5)
        played.appended.append(json.dumps(_event("click", old["impression_id"], old["placement_id"], old["ad_id"], moment)))
        played.injected["late_clicks"] += 1
    for bad in range(MALFORMED):
        played.appended.append(rng.choice(['{"event_type": "impression", "impression_id": "x"', "not json",
                                           json.dumps({"event_type": "hover", "impression_id": f"h{bad}",
                                                       "placement_id": "home-top", "ad_id": "ad-a",
                                                       "event_time": _iso(base)})]))
        played.injected["malformed"] += 1
    return played


def arrival_order(played: _Round) -> list[str]:
    """The round's lines as they reach the stream: by time (re-sends a few seconds after their
    original, inside the watermark bound), then the late clicks and malformed records."""
    return [line for _, line in sorted(played.events, key=lambda e: e[0])] + played.appended


# --- the loop ---------------------------------------------------------------------------

def _kinesis_event(rows: Sequence[dict], first: int) -> dict:
    records = []
    for offset, row in enumerate(rows):
        data = json.dumps({k: (v.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(v, datetime) else v)
                           for k, v in row.items()}).encode()
        sequence = f"{first + offset:056d}"
        records.append({"kinesis": {"partitionKey": row["placement_id"], "sequenceNumber": sequence,
                                    "data": base64.b64encode(data).decode(), "approximateArrivalTimestamp": 0.0},
                        "eventSource": "aws:kinesis", "eventID": f"shardId-000000000000:{sequence}"})
    return {"Records": records}


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
            reads = _count_reads()
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
    figure = _plot(stats, plot_dir) if plot else None
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
        last = _kinesis_event(rows[start:start + batch], start)
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


class _count_reads:
    """Counts GetItem calls the placement API makes (every botocore client, while active)."""

    def __init__(self) -> None:
        from botocore.client import BaseClient
        self.count, self._base = 0, BaseClient
        self._original = BaseClient._make_api_call
        outer = self

        def counting(client: Any, operation: str, params: Mapping[str, Any]) -> Any:
            if operation == "GetItem":
                outer.count += 1
            return outer._original(client, operation, params)
        BaseClient._make_api_call = counting

    def stop(self) -> None:
        self._base._make_api_call = self._original


def _plot(stats: list[RoundStats], plot_dir: Path | None) -> Path:
    import matplotlib
    matplotlib.use("Agg")   # no display: write the file only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    folder = Path(plot_dir) if plot_dir is not None else Path(tempfile.mkdtemp(prefix="refarch-adtech-"))
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [r.number for r in stats]
    figure, (share, regret) = plt.subplots(1, 2, figsize=(11, 4))
    share.plot(numbers, [r.best_share for r in stats], marker="o", label="all placements")
    for placement, truth in TRUE_CTR.items():
        best = max(truth, key=truth.get)
        share.plot(numbers, [r.impressions[placement][best] / sum(r.impressions[placement].values()) for r in stats],
                   linestyle="--", label=f"{placement} ({best})")
    share.axhline(0.8, color="grey", linewidth=0.8)
    share.set(title="Share of impressions on the best ad", xlabel="round", ylim=(0, 1))
    share.legend(loc="lower right")
    total, cumulative = 0.0, []
    for r in stats:
        total += r.regret
        cumulative.append(total)
    regret.plot(numbers, cumulative, marker="o", color="tab:red", label="cumulative regret (expected clicks)")
    ctr = regret.twinx()
    ctr.plot(numbers, [r.observed_ctr * 100 for r in stats], marker="s", color="tab:green", label="observed CTR (%)")
    regret.set(title="Cumulative regret and observed CTR", xlabel="round", ylabel="clicks lost")
    ctr.set_ylabel("CTR (%)")
    lines = regret.get_lines() + ctr.get_lines()
    regret.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize="small")
    figure.tight_layout()
    for axes in (share, regret):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))   # rounds are whole numbers
    path = folder / "adtech_loop.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
