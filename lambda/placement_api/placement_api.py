"""The placement API's Lambda entry point `placement_api.handler` (API Gateway REST, proxy).

One DynamoDB GetItem per placement at most every CACHE_SECONDS (the ranking changes once a
window, every minute), then a decision in memory (placement_decision.py). Answers
200 {"placement_id", "ad_id", "decision": explore | exploit | fallback, "window_end"} and
400 {"message"} for a request it cannot answer; a DynamoDB failure is an error (API
Gateway answers 5xx, which the stack alarms on), never a silent fallback.

Environment (set by the stack):
  TABLE_NAME          placements table, written by the placement updater
  EXPLORATION_SHARE   share of requests that explore, 0 to 0.5 (default 0.1)
  FALLBACK_AD         the ad to show where the ranking has nothing to offer
  CACHE_SECONDS       how long a placement's ranking is reused in this environment, 0 to 300 (default 5)
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from placement_decision import ID, BadRequest, Decision, Ranking, choose, parse_request

SERVICE = "placement-api"
logger = Logger(service=SERVICE)
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1, read_timeout=2)
CACHE_ENTRIES = 10_000
# The clock of the ranking cache and the source of exploration draws; module attributes so a
# local run can drive them with simulated time and a seed.
clock: Callable[[], float] = time.monotonic
rng = random.Random()


class ConfigError(ValueError):
    """An environment variable is missing or has a value the API cannot use."""


@dataclass(frozen=True)
class ApiConfig:
    table_name: str
    exploration: float
    fallback_ad: str
    cache_seconds: float


def load_config(environ: Mapping[str, str]) -> ApiConfig:
    table = environ.get("TABLE_NAME", "").strip()
    if not table:
        raise ConfigError("environment variable TABLE_NAME is not set: expected the placements table name")
    fallback = environ.get("FALLBACK_AD", "").strip()
    if not ID.match(fallback):
        raise ConfigError(f"FALLBACK_AD={fallback!r}: expected an ad id (1 to 128 of A-Z a-z 0-9 . _ : -)")

    def number(name: str, default: str, low: float, high: float) -> float:
        raw = environ.get(name, "").strip() or default
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ConfigError(f"{name}={raw!r}: expected a number from {low:g} to {high:g}")
        return value

    return ApiConfig(table, number("EXPLORATION_SHARE", "0.1", 0, 0.5), fallback,
                     number("CACHE_SECONDS", "5", 0, 300))


class RankingCache:
    """Placement -> (ranking or None, fetched at), for `ttl` seconds, the newest `size` placements."""

    def __init__(self, ttl: float, size: int = CACHE_ENTRIES) -> None:
        self.ttl, self.size = ttl, size
        self.entries: OrderedDict[str, tuple[Ranking | None, float]] = OrderedDict()

    def get(self, placement: str, fetch: Callable[[str], Ranking | None]) -> Ranking | None:
        now = clock()
        held = self.entries.get(placement)
        if held is not None and now - held[1] < self.ttl:
            self.entries.move_to_end(placement)
            return held[0]
        ranking = fetch(placement)
        if self.ttl > 0:
            self.entries[placement] = (ranking, now)
            self.entries.move_to_end(placement)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return ranking


@dataclass
class Wiring:
    client: Any
    cache: RankingCache


@lru_cache(maxsize=1)
def _wiring(config: ApiConfig, region: str | None) -> Wiring:
    client = boto3.Session(region_name=region).client("dynamodb", config=_CLIENT_CONFIG)
    return Wiring(client, RankingCache(config.cache_seconds))


def read_ranking(client: Any, table: str, placement: str) -> Ranking | None:
    item = client.get_item(TableName=table, Key={"placement_id": {"S": placement}}).get("Item")
    return Ranking.from_item(item) if item and "window_end" in item else None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = load_config(os.environ)
    try:
        request = parse_request(event)
    except BadRequest as bad:
        return _response(400, {"message": str(bad)})
    wiring = _wiring(config, os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    try:
        ranking = wiring.cache.get(request.placement_id,
                                   lambda placement: read_ranking(wiring.client, config.table_name, placement))
    except Exception:
        logger.exception("reading the ranking failed", extra={"placement_id": request.placement_id})
        raise
    decision = choose(request, ranking, exploration=config.exploration, fallback=config.fallback_ad,
                      draw=rng.random(), pick=rng.choice)
    return _response(200, answer(decision))


def answer(decision: Decision) -> dict[str, Any]:
    window = decision.window_end_ms
    return {"placement_id": decision.placement_id, "ad_id": decision.ad_id, "decision": decision.decision,
            "window_end": None if window is None else
            datetime.fromtimestamp(window / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body),
            "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"}}
