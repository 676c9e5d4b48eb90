"""The AdTech loop's report: per round, what was shown and clicked, how the Flink job accounted
for every event sent (checked against what the ad server injected), whether a redelivered batch
changed nothing; and whether the best ads' share reached the required share by the last round.
Also its plot (best-ad share, regret and CTR per round)."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from refarch.local.generators.ad_traffic import TRUE_CTR


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


def plot_loop(stats: list[RoundStats], plot_dir: Path | None) -> Path:
    """A PNG of the rounds: the best ads' share of impressions, and cumulative regret with the
    observed CTR; under `plot_dir` (default: a new temporary folder)."""
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
