"""Seed noise: how big a gain the project's seeds can show, and how many seeds min_effect needs.

The advice is made for the rule Phase 4 decides by (workflow.stats.Rule: one-sided Welch
at alpha split over the iteration limit, with the project's power), from the usable runs
of the baseline, so Phase 3's "N seeds" and Phase 4's verdicts cannot disagree. A
baseline that barely learns (its train loss falls less than NOT_LEARNING_RATIO from the
first epoch on most seeds) says nothing about a working model's spread: a model stuck
near chance level scatters by luck, and its spread would ask for hundreds of seeds. Its
noise is then not taken as the project's; Phase 4 states the detectable gain of every
comparison it makes instead.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from phases.diagnostic.evidence import Evidence, std
from phases.diagnostic.rules._base import Finding, Rule, r
from workflow.stats import MAX_SEEDS

__all__ = ["NOT_LEARNING_RATIO", "SeedAdvice", "SeedNoise", "seed_advice"]

# best train loss / first epoch's train loss above this, on the median seed: not learning
NOT_LEARNING_RATIO = 0.9


@dataclass(frozen=True)
class SeedAdvice:
    """What the baseline's spread across seeds means for Phase 4's comparisons."""

    seeds: int  # usable runs
    sd: float | None  # the target's sample std over them (raw units); None: under 2 runs
    working: bool  # the arm learns: its spread is a working model's
    detectable: float | None  # smallest gain the seeds detect with the rule's power (raw)
    needed: int | None  # seeds per arm for min_effect; None: over MAX_SEEDS or not estimable
    power: float
    test_alpha: float
    text: str  # one sentence, in the metric's unit

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "sd": self.sd, "working": self.working,
                "detectable_effect": self.detectable, "seeds_needed": self.needed,
                "power": self.power, "test_alpha": self.test_alpha, "text": self.text}


def _learns(ev: Evidence) -> tuple[bool, float | None]:
    """Whether the baseline learns, and the median ratio of best to first train loss."""
    ratios = []
    for run in ev.usable:
        losses = [v for v in run.column("train_loss") if math.isfinite(v)]
        if len(losses) >= 2 and losses[0] > 0:
            ratios.append(min(losses) / losses[0])
    if not ratios:
        return True, None  # no train loss to judge by: take the spread as it is
    ratio = statistics.median(ratios)
    return ratio <= NOT_LEARNING_RATIO, ratio


def seed_advice(ev: Evidence) -> SeedAdvice:
    """The always-stated seed advice: the detectable gain now, the seeds for min_effect."""
    rule, target = ev.rule, ev.target
    values = ev.target_values()
    n = len(values)
    reference = statistics.fmean(values) if values else None

    def pts(x: float) -> str:
        return f"{target.points(x, reference):.2f} {target.unit}"

    power, test_alpha = rule.power, rule.test_alpha
    level = (f"one-sided t-test at {rule.test_alpha:.3g} (alpha {rule.alpha:g} over "
             f"{rule.family} attempts), {100 * rule.power:.0f}% power")
    if n < 2:
        return SeedAdvice(n, None, True, None, None, power, test_alpha,
                          text=f"{n} usable seed(s): seed noise cannot be estimated")
    sd = std(values)
    working, ratio = _learns(ev)
    if not working:
        return SeedAdvice(
            n, sd, False, None, None, power, test_alpha,
            f"the baseline barely learns (its best train loss is {100 * (ratio or 1):.0f}% "
            f"of the first epoch's on the median seed), so its spread across seeds "
            f"({pts(sd)} std) is not a working model's and no seed count is derived from it; "
            "Phase 4 states the gain each comparison can detect")
    detectable = rule.detectable_effect(sd, n)
    needed = rule.seeds_needed(sd)
    text = (f"the target's spread across {n} usable seeds is {pts(sd)} (std): {n} seeds per "
            f"arm detect a gain of {pts(detectable)} ({level})")
    if rule.min_effect > 0:
        text += (f"; the minimum effect {pts(rule.min_effect)} needs "
                 + (f"{needed} seeds per arm" if needed is not None else
                    f"more than {MAX_SEEDS} seeds per arm (raise min_effect)"))
        text += "; Phase 4 states what each comparison's own seeds detect"
    return SeedAdvice(n, sd, True, detectable, needed, power, test_alpha, text)


class SeedNoise(Rule):
    id = "seed_noise"
    title = "Seed noise too large for the gains sought"
    root_cause = False

    def check(self, ev: Evidence) -> Finding | None:
        advice = seed_advice(ev)
        n = advice.seeds
        if not advice.working or advice.sd is None or ev.min_effect <= 0:
            return None
        if advice.needed is not None and advice.needed <= n:
            return None
        needed = advice.needed if advice.needed is not None else MAX_SEEDS  # "more than"
        values = ev.target_values()
        reference = statistics.fmean(values)
        points = ev.target.points
        # medium at most: the spread sizes the experiment (how many seeds), it is no defect
        # of the config, and a clean config is never given a high-severity finding for it
        return self.found("medium", {
            "std": r(points(advice.sd, reference), 3),
            "min_effect": r(points(ev.min_effect, reference), 3),
            "detectable_effect": r(points(advice.detectable or 0.0, reference), 3),
            "unit": ev.target.unit,
            "seeds": n,
            "seeds_needed": needed,
            "power": advice.power,
            "test_alpha": r(advice.test_alpha, 4),
        }, advice.text)
