"""Which ad for placement P: the placement API's pure core.

A request is `GET /placements/{placement_id}/ad?candidates=ad-a,ad-b`: the ad server names
the ads it may show there (optional; without them the ranking's own ads are the choice).
The answer follows the placement's stored ranking (the updater's scores for its newest
window) with an exploration share:

  explore   with probability `exploration`, a uniformly chosen candidate (or, without
            candidates, an ad of the ranking): how an ad with too few impressions, or one the
            windows have not seen yet, gets the impressions its rate needs
  exploit   otherwise the best-scored ad of the ranking among the candidates
  fallback  the fallback ad, when nothing the ranking holds may be shown (no ranking yet for
            the placement, or none of the candidates in it) and the request did not explore
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")   # the ad-tech job's rule for ids
MAX_CANDIDATES = 100
EXPLORE, EXPLOIT, FALLBACK = "explore", "exploit", "fallback"


class BadRequest(ValueError):
    """The request cannot be answered; the message says why (the API returns it with a 400)."""


@dataclass(frozen=True)
class Request:
    placement_id: str
    candidates: tuple[str, ...] | None


@dataclass(frozen=True)
class Ranked:
    ad_id: str
    score: float
    impressions: int


@dataclass(frozen=True)
class Ranking:
    window_end_ms: int
    ads: tuple[Ranked, ...]   # best first

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Ranking:
        """The ranking in a placements-table item (DynamoDB attribute values)."""
        ads = [Ranked(ad, float(v["M"]["score"]["N"]), int(v["M"]["impressions"]["N"]))
               for ad, v in item.get("ranking", {}).get("M", {}).items()]
        ads.sort(key=lambda r: (-r.score, -r.impressions, r.ad_id))
        return cls(int(item["window_end"]["N"]), tuple(ads))


@dataclass(frozen=True)
class Decision:
    placement_id: str
    ad_id: str
    decision: str
    window_end_ms: int | None


def parse_request(event: Mapping[str, Any]) -> Request:
    """The placement and candidates of an API Gateway (REST, proxy) event, or BadRequest."""
    placement = (event.get("pathParameters") or {}).get("placement_id")
    if not isinstance(placement, str) or not ID.match(placement):
        raise BadRequest("placement_id must be 1 to 128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)")
    raw = (event.get("queryStringParameters") or {}).get("candidates")
    if raw is None:
        return Request(placement, None)
    names = [name.strip() for name in raw.split(",")]
    bad = [name for name in names if not ID.match(name)]
    if bad:
        raise BadRequest(f"candidates must be comma-separated ad ids; {bad[0]!r} is not one")
    unique = tuple(dict.fromkeys(names))
    if len(unique) > MAX_CANDIDATES:
        raise BadRequest(f"at most {MAX_CANDIDATES} candidates, got {len(unique)}")
    return Request(placement, unique)


def choose(request: Request, ranking: Ranking | None, *, exploration: float, fallback: str,
           draw: float, pick: Callable[[Sequence[str]], str]) -> Decision:
    """Decide for `request`. draw: uniform in [0, 1) (explore below `exploration`);
    pick: chooses one of a sequence uniformly (random.Random.choice)."""
    window = ranking.window_end_ms if ranking else None
    allowed = [r.ad_id for r in (ranking.ads if ranking else ())
               if request.candidates is None or r.ad_id in request.candidates]
    pool = list(request.candidates) if request.candidates is not None else allowed
    if pool and draw < exploration:
        return Decision(request.placement_id, pick(pool), EXPLORE, window)
    if allowed:
        return Decision(request.placement_id, allowed[0], EXPLOIT, window)
    return Decision(request.placement_id, fallback, FALLBACK, window)
