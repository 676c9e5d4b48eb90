"""How a window's counts become an ad's place in its placement's ranking.

Smoothed CTR: the posterior mean of a Beta prior worth `prior_impressions` impressions at
`prior_ctr` (alpha = prior_ctr * n, beta = (1 - prior_ctr) * n) updated with the window's
impressions and attributed clicks:

    score = (alpha + clicks) / (alpha + beta + impressions)

so a handful of impressions barely moves an ad off the prior: with the defaults (1 %, worth
100 impressions) an ad with 2 impressions and 1 click scores 1.96 %, below one with 10,000
and 300 (2.98 %). Below `min_impressions` an ad's own rate does not count at all: it scores
exactly the prior and is marked not eligible, so the placement API shows it only when it
explores. Ties are broken by impressions, then by ad id, so a ranking is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

SCORE_DIGITS = 6


@dataclass(frozen=True)
class ScoringRules:
    prior_ctr: float = 0.01
    prior_impressions: float = 100.0
    min_impressions: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.prior_ctr < 1:
            raise ValueError(f"prior_ctr={self.prior_ctr!r}: allowed between 0 and 1")
        if not self.prior_impressions > 0:
            raise ValueError(f"prior_impressions={self.prior_impressions!r}: allowed above 0")
        if self.min_impressions < 0:
            raise ValueError(f"min_impressions={self.min_impressions!r}: allowed 0 or more")


@dataclass(frozen=True)
class Entry:
    """One ad's place in a placement's ranking, from one window."""
    impressions: int
    clicks: int
    unattributed_clicks: int
    score: float
    eligible: bool


def score(impressions: int, clicks: int, rules: ScoringRules) -> tuple[float, bool]:
    """(score, eligible) for an ad with these counts in a window."""
    if impressions < rules.min_impressions:
        return round(rules.prior_ctr, SCORE_DIGITS), False
    alpha = rules.prior_ctr * rules.prior_impressions
    smoothed = (alpha + clicks) / (rules.prior_impressions + impressions)
    return round(smoothed, SCORE_DIGITS), True


def entry(impressions: int, clicks: int, unattributed_clicks: int, rules: ScoringRules) -> Entry:
    value, eligible = score(impressions, clicks, rules)
    return Entry(impressions, clicks, unattributed_clicks, value, eligible)


def ranked(entries: dict[str, Entry]) -> list[str]:
    """Ad ids best first."""
    return sorted(entries, key=lambda ad: (-entries[ad].score, -entries[ad].impressions, ad))
