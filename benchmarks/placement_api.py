"""Placement API decisions per second and DynamoDB requests per decision, under moto.

    python benchmarks/placement_api.py        (from the repository root)

Three ways to answer "which ad for placement P", on the same requests in the same run:

  cached     the real handler (lambda/placement_api): one GetItem of the placement's stored
             ranking per cache period (5 s), then a decision in memory
  uncached   the real handler with CACHE_SECONDS=0: one GetItem per decision
  naive      the baseline: a handler that keeps no ranking, but queries the CTR results (every
             window row the job wrote for the placement, as a table of windows) on every request
             and ranks the newest window's ads itself

Requests arrive at 1,000 per second of simulated time over 40 placements; the rankings come
from the real updater fed the same windows. Timings are moto's (in-process, no network), so
the figure that carries over to AWS is requests per decision: there each one is a network
round trip and read capacity. Best of 3 interleaved rounds (`--repeats N`); nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout

from refarch.lambda_code import load_lambda_module  # noqa: E402
from refarch.local.adtech import create_placements_table  # noqa: E402
from refarch.local.engines.lambda_runtime import FAKE_AWS, QUIET_POWERTOOLS, LocalContext, environment  # noqa: E402

PLACEMENTS, ADS, WINDOWS = 40, 8, 5   # each placement-ad has the 5 newest sliding windows stored
REQUESTS, RATE = 2000, 1000.0         # decisions, and requests per simulated second
REPEATS = 3
WINDOW_END_MS = 1_714_565_100_000

scoring = load_lambda_module("placement_updater", "placement_scoring")
decision = load_lambda_module("placement_api", "placement_decision")


def windows() -> list[dict]:
    rng = random.Random(5)
    rows = []
    for p in range(PLACEMENTS):
        for a in range(ADS):
            for w in range(WINDOWS):
                end = WINDOW_END_MS - (WINDOWS - 1 - w) * 60_000
                impressions = rng.randint(50, 3000)
                rows.append({"placement_id": f"placement-{p:02d}", "ad_id": f"ad-{a}", "window_end_ms": end,
                             "impressions": impressions, "clicks": int(impressions * rng.uniform(0.005, 0.08)),
                             "unattributed_clicks": 0})
    return rows


def load_tables(dynamodb: Any, updater: Any, rows: list[dict]) -> None:
    """Rankings through the real updater; the naive baseline's table of raw windows beside them."""
    create_placements_table(dynamodb, "placements")
    dynamodb.create_table(TableName="ctr_windows", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "placement_id", "KeyType": "HASH"},
                                     {"AttributeName": "window_ad", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "placement_id", "AttributeType": "S"},
                                                {"AttributeName": "window_ad", "AttributeType": "S"}])
    records = []
    for n, row in enumerate(sorted(rows, key=lambda r: r["window_end_ms"])):
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(row["window_end_ms"] / 1000))
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(row["window_end_ms"] / 1000 - 300))
        data = {"window_start": start, "window_end": iso, **{k: row[k] for k in (
            "placement_id", "ad_id", "impressions", "clicks", "unattributed_clicks")}}
        records.append({"kinesis": {"sequenceNumber": f"{n:056d}", "partitionKey": row["placement_id"],
                                    "data": base64.b64encode(json.dumps(data).encode()).decode()}})
        dynamodb.put_item(TableName="ctr_windows", Item={
            "placement_id": {"S": row["placement_id"]}, "window_ad": {"S": f"{row['window_end_ms']}#{row['ad_id']}"},
            "window_end": {"N": str(row["window_end_ms"])}, "ad_id": {"S": row["ad_id"]},
            "impressions": {"N": str(row["impressions"])}, "clicks": {"N": str(row["clicks"])}})
    for start in range(0, len(records), 100):
        response = updater.handler({"Records": records[start:start + 100]}, LocalContext("placement-updater"))
        assert not response["batchItemFailures"], response


def naive_handler(dynamodb: Any, rules: Any, rng: random.Random, exploration: float) -> Callable[[dict], dict]:
    """The baseline: query every stored window of the placement on every request."""
    def handle(event: dict) -> dict:
        request = decision.parse_request(event)
        items, start = [], None
        while True:
            page = dynamodb.query(TableName="ctr_windows", KeyConditionExpression="placement_id = :p",
                                  ExpressionAttributeValues={":p": {"S": request.placement_id}},
                                  **({"ExclusiveStartKey": start} if start else {}))
            items += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        newest = max((int(i["window_end"]["N"]) for i in items), default=None)
        ads = []
        for item in items:
            if int(item["window_end"]["N"]) == newest:
                score, _ = scoring.score(int(item["impressions"]["N"]), int(item["clicks"]["N"]), rules)
                ads.append(decision.Ranked(item["ad_id"]["S"], score, int(item["impressions"]["N"])))
        ads.sort(key=lambda r: (-r.score, -r.impressions, r.ad_id))
        ranking = decision.Ranking(newest, tuple(ads)) if ads else None
        chosen = decision.choose(request, ranking, exploration=exploration, fallback="house-ad",
                                 draw=rng.random(), pick=rng.choice)
        return {"statusCode": 200, "body": json.dumps({"ad_id": chosen.ad_id, "decision": chosen.decision})}
    return handle


class RequestCounter:
    """Counts every AWS request made through botocore while installed."""

    def __init__(self) -> None:
        from botocore.client import BaseClient
        self.count, self.items, self._base, self._original = 0, 0, BaseClient, BaseClient._make_api_call
        counter = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            counter.count += 1
            response = counter._original(client, operation, params)
            counter.items += len(response.get("Items", [])) + ("Item" in response)
            return response
        BaseClient._make_api_call = counting

    def close(self) -> None:
        self._base._make_api_call = self._original


def measure(handle: Callable[[dict], dict], requests: list[dict],
            tick: Callable[[float], None]) -> tuple[float, float, float]:
    """(decisions per second, DynamoDB requests and items read per decision) for one pass."""
    counter = RequestCounter()
    try:
        started = time.perf_counter()
        for n, event in enumerate(requests):
            tick(n / RATE)
            assert handle(event)["statusCode"] == 200
        elapsed = time.perf_counter() - started
    finally:
        counter.close()
    return len(requests) / elapsed, counter.count / len(requests), counter.items / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    import boto3
    from moto import mock_aws

    rng = random.Random(11)
    requests = [{"pathParameters": {"placement_id": f"placement-{rng.randrange(PLACEMENTS):02d}"},
                 "queryStringParameters": None} for _ in range(REQUESTS)]
    config = {"TABLE_NAME": "placements", "QUARANTINE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
              "FALLBACK_AD": "house-ad", "EXPLORATION_SHARE": "0.1", "PRIOR_CTR": "0.01",
              "PRIOR_IMPRESSIONS": "100", "MIN_IMPRESSIONS": "30"}
    with environment({**FAKE_AWS, **QUIET_POWERTOOLS, **config}), mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        updater = load_lambda_module("placement_updater", "placement_updater")
        api = load_lambda_module("placement_api", "placement_api")
        load_tables(dynamodb, updater, windows())
        now = [0.0]
        api.clock = lambda: now[0]

        def tick(seconds: float) -> None:
            now[0] = seconds

        ways = {"cached": "5", "uncached": "0"}
        best: dict[str, tuple[float, float, float]] = {}
        rules = scoring.ScoringRules(0.01, 100, 30)
        for _ in range(args.repeats):   # interleaved, so load on the machine hits every way alike
            for name, cache in ways.items():
                os.environ["CACHE_SECONDS"] = cache
                api._wiring.cache_clear()   # a fresh execution environment: an empty cache
                api.rng.seed(3)
                result = measure(lambda e: api.handler(e, None), requests, tick)
                best[name] = max(best.get(name, result), result)
            naive = naive_handler(dynamodb, rules, random.Random(3), 0.1)
            result = measure(naive, requests, tick)
            best["naive"] = max(best.get("naive", result), result)

    base_rate, base_requests, base_items = best["naive"]
    print(f"placement API: {REQUESTS} decisions over {PLACEMENTS} placements x {ADS} ads "
          f"({WINDOWS} windows each for the baseline), best of {args.repeats}, under moto")
    print(f"{'handler':<10} {'decisions/s':>12} {'vs naive':>9} {'requests/decision':>18} {'vs naive':>9} "
          f"{'items read/decision':>20} {'vs naive':>9}")
    for name in ("cached", "uncached", "naive"):
        rate, per, items = best[name]
        print(f"{name:<10} {rate:>12,.0f} {rate / base_rate:>8.1f}x {per:>18.4f} {per / base_requests:>8.3f}x "
              f"{items:>20.3f} {items / base_items:>8.3f}x")


if __name__ == "__main__":
    main()
