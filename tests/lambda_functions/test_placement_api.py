"""The placement API handler against moto: one read per placement and cache period, the
ranking with exploration, the fallback, and a clear 400 for a malformed request."""

from __future__ import annotations

import json
import random

import boto3
import pytest
from moto import mock_aws

from tests.lambda_loader import load

api = load("placement_api", "placement_api")
decision = load("placement_api", "placement_decision")

WINDOW_END_MS = 1_714_565_100_000   # 2024-05-01T12:05:00Z


def ranking_item(placement: str, scores: dict[str, tuple[float, int]]) -> dict:
    return {"placement_id": {"S": placement}, "window_start": {"N": str(WINDOW_END_MS - 300_000)},
            "window_end": {"N": str(WINDOW_END_MS)}, "prior_ctr": {"N": "0.01"},
            "ranking": {"M": {ad: {"M": {"score": {"N": str(score)}, "impressions": {"N": str(n)},
                                         "clicks": {"N": "0"}, "unattributed_clicks": {"N": "0"},
                                         "eligible": {"BOOL": n >= 30}}}
                              for ad, (score, n) in scores.items()}}}


def get(placement: str | None, candidates: str | None = None) -> dict:
    return {"resource": "/placements/{placement_id}/ad", "httpMethod": "GET",
            "pathParameters": None if placement is None else {"placement_id": placement},
            "queryStringParameters": None if candidates is None else {"candidates": candidates}}


class Calls:
    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model, params, **kwargs) -> None:
        self.operations.append(model.name)


@pytest.fixture
def table(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in {"TABLE_NAME": "placements", "EXPLORATION_SHARE": "0.1", "FALLBACK_AD": "house-ad",
                        "CACHE_SECONDS": "5"}.items():
        monkeypatch.setenv(name, value)
    now = [1000.0]
    monkeypatch.setattr(api, "clock", lambda: now[0])
    monkeypatch.setattr(api, "rng", random.Random(7))
    api._wiring.cache_clear()
    with mock_aws():
        from refarch.local.adtech import create_placements_table
        client = boto3.client("dynamodb")
        create_placements_table(client, "placements")
        client.put_item(TableName="placements", Item=ranking_item(
            "home", {"ad-a": (0.031, 5000), "ad-b": (0.052, 4000), "ad-c": (0.01, 12)}))
        calls = Calls()
        wiring = api._wiring(api.load_config(__import__("os").environ), "us-east-1")
        wiring.client.meta.events.register("before-call.dynamodb.*", calls)
        yield client, calls, now
    api._wiring.cache_clear()


def answers(event: dict, times: int) -> list[dict]:
    found = []
    for _ in range(times):
        response = api.handler(event, None)
        assert response["statusCode"] == 200, response
        found.append(json.loads(response["body"]))
    return found


def test_mostly_the_best_scored_ad_and_a_share_of_exploration(table):
    found = answers(get("home"), 1000)
    kinds = {kind: sum(a["decision"] == kind for a in found) for kind in ("exploit", "explore")}
    assert {a["ad_id"] for a in found if a["decision"] == "exploit"} == {"ad-b"}
    assert 60 <= kinds["explore"] <= 140 and kinds["exploit"] + kinds["explore"] == 1000   # 10 % of 1000
    assert {a["ad_id"] for a in found if a["decision"] == "explore"} == {"ad-a", "ad-b", "ad-c"}
    assert found[0]["window_end"] == "2024-05-01T12:05:00Z"


def test_one_read_per_placement_and_cache_period(table):
    _, calls, now = table
    answers(get("home"), 200)
    assert calls.operations == ["GetItem"]
    now[0] += 5   # the cache period has passed: the next request reads again
    answers(get("home"), 10)
    assert calls.operations == ["GetItem", "GetItem"]


def test_candidates_restrict_the_choice_and_unknown_ones_are_explored(table):
    found = answers(get("home", "ad-a,ad-new"), 600)
    assert {a["ad_id"] for a in found if a["decision"] == "exploit"} == {"ad-a"}
    assert {a["ad_id"] for a in found if a["decision"] == "explore"} == {"ad-a", "ad-new"}


def test_an_unknown_placement_gets_the_fallback_ad(table):
    found = answers(get("checkout"), 50)
    assert {(a["ad_id"], a["decision"]) for a in found} == {("house-ad", "fallback")}
    assert found[0]["window_end"] is None


def test_without_a_ranking_candidates_are_still_explored(table):
    found = answers(get("checkout", "ad-x,ad-y"), 500)
    assert {a["ad_id"] for a in found if a["decision"] == "fallback"} == {"house-ad"}
    assert {a["ad_id"] for a in found if a["decision"] == "explore"} == {"ad-x", "ad-y"}


@pytest.mark.parametrize(("event", "message"), [
    (get(None), "placement_id must be"),
    (get("home page"), "placement_id must be"),
    (get("x" * 129), "placement_id must be"),
    (get("home", "ad-a,,ad-b"), "candidates must be comma-separated ad ids; '' is not one"),
    (get("home", "ad-a;drop"), "'ad-a;drop' is not one"),
    (get("home", ",".join(f"ad-{n}" for n in range(101))), "at most 100 candidates, got 101"),
])
def test_a_malformed_request_is_a_clear_400(table, event, message):
    response = api.handler(event, None)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["message"]
    assert response["headers"]["Content-Type"] == "application/json"


def test_a_dynamodb_failure_is_an_error_not_a_silent_fallback(table, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    api._wiring.cache_clear()
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        api.handler(get("home"), None)


def test_choose_is_deterministic_given_the_draw():
    ranking = decision.Ranking(WINDOW_END_MS, (decision.Ranked("ad-b", 0.05, 10), decision.Ranked("ad-a", 0.03, 10)))
    request = decision.Request("home", None)
    first = lambda pool: pool[0]  # noqa: E731
    assert decision.choose(request, ranking, exploration=0.1, fallback="h", draw=0.5, pick=first).ad_id == "ad-b"
    assert decision.choose(request, ranking, exploration=0.1, fallback="h", draw=0.05, pick=lambda p: p[-1]) == \
        decision.Decision("home", "ad-a", "explore", WINDOW_END_MS)
    assert decision.choose(request, None, exploration=0.1, fallback="h", draw=0.05, pick=first).decision == "fallback"


@pytest.mark.parametrize(("variable", "value"), [("EXPLORATION_SHARE", "0.7"), ("CACHE_SECONDS", "-1"),
                                                 ("FALLBACK_AD", "house ad"), ("TABLE_NAME", "")])
def test_bad_configuration_names_the_variable(variable, value):
    environ = {"TABLE_NAME": "t", "FALLBACK_AD": "house-ad", variable: value}
    with pytest.raises(api.ConfigError, match=variable):
        api.load_config(environ)
