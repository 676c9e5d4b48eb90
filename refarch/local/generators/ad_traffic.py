"""The AdTech loop's ad server and its users, simulated and seeded.

Each round the ad server asks the placement API handler which ad to show on every page view;
users, each ad with a hidden true CTR (TRUE_CTR), click or not; and the ad server emits the
impression and click events with what real traffic carries: re-sent impressions and clicks,
double clicks, clicks naming no impression (ghosts), clicks on an impression two rounds back
(late) and malformed records. `ServedRound.injected` counts each kind: the truth a run is
compared with.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from refarch.local.engines.lambda_events import api_gateway_event
from refarch.local.engines.lambda_runtime import LocalContext

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


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event(kind: str, impression: str, placement: str, ad: str, moment: datetime) -> dict:
    return {"event_type": kind, "impression_id": impression, "placement_id": placement, "ad_id": ad,
            "event_time": _iso(moment)}


@dataclass
class ServedRound:
    events: list[tuple[datetime, str]] = field(default_factory=list)   # (arrival time, raw line)
    appended: list[str] = field(default_factory=list)                  # sent after everything else
    impressions: dict[str, Counter] = field(default_factory=dict)
    decisions: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    clicks: int = 0
    regret: float = 0.0


def serve_round(number: int, api: Any, rng: random.Random, decisions_per_placement: int, fallback: str,
                history: dict[int, list[dict]]) -> ServedRound:
    """One round of page views: decisions from the API handler, impressions, clicks and noise."""
    base = START + ROUND * number
    played = ServedRound()
    impressions_this_round = []
    for placement, truth in TRUE_CTR.items():
        shown: Counter = Counter()
        best = max(truth.values())
        for view in range(decisions_per_placement):
            request = api_gateway_event("GET", "/placements/{placement_id}/ad", {"placement_id": placement},
                                        {"candidates": ",".join(sorted(truth))})
            answer = json.loads(api.handler(request, LocalContext("placement-api"))["body"])
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


def arrival_order(played: ServedRound) -> list[str]:
    """The round's lines as they reach the stream: by time (re-sends a few seconds after their
    original, inside the watermark bound), then the late clicks and malformed records."""
    return [line for _, line in sorted(played.events, key=lambda e: e[0])] + played.appended
