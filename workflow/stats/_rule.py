"""The one significance rule, as an object: how Phase 4 decides and Phase 3 plans seeds.

`Rule.compare` is the decision (package docstring); `power_at`, `seeds_needed` and
`detectable_effect` size the experiment for the same test, so Phase 3's advice and
Phase 4's decisions cannot disagree. Power is computed for two arms of n seeds with a
common seed sd and no same-seed correlation: the noncentral t with n - 1 degrees of
freedom (the paired test's) and noncentrality effect / (sd sqrt(2 / n)). Correlation
only raises the paired test's power, and Welch's test has at least n - 1 degrees of
freedom, so this is a floor for whichever test decides. `benchmarks/calibration.py`
checks it by simulation through `Rule.compare`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from workflow.stats._common import MIN_SEEDS, Values
from workflow.stats._compare import Comparison, compare

__all__ = ["MAX_SEEDS", "Rule"]

# seed advice stops here: beyond it the honest advice is "a bigger min_effect"
MAX_SEEDS = 500


@dataclass(frozen=True)
class Rule:
    """alpha: family-wise over `family` comparisons (Phase 4's iteration limit); min_effect:
    the smallest gain worth claiming, in the metric's raw units; power: the chance of
    detecting a true gain of min_effect that the seed advice is sized for."""

    alpha: float = 0.05
    min_effect: float = 0.0
    power: float = 0.8
    family: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie strictly between 0 and 1, but got {self.alpha=}.")
        if not 0.0 < self.power < 1.0:
            raise ValueError(f"power must lie strictly between 0 and 1, but got {self.power=}.")
        if self.family < 1:
            raise ValueError(f"family must be at least 1, but got {self.family=}.")
        if not math.isfinite(self.min_effect) or self.min_effect < 0:
            raise ValueError(f"min_effect must be finite and >= 0, but got {self.min_effect=}.")

    @property
    def test_alpha(self) -> float:
        """Each comparison's level: Bonferroni over the family, so the family's is alpha."""
        return self.alpha / self.family

    def compare(
        self, baseline: Values, candidate: Values, *, higher_is_better: bool = True,
        paired: bool = False,
    ) -> Comparison:
        return compare(baseline, candidate, higher_is_better=higher_is_better, alpha=self.alpha,
                       min_effect=self.min_effect, family=self.family, paired=paired)

    def power_at(self, effect: float, sd: float, n: int) -> float:
        """The chance that a true gain `effect` is called significant with n seeds per arm."""
        if n < 2:
            return 0.0
        if sd <= 0:
            return 1.0 if effect > 0 else 0.0
        from scipy.stats import nct, t

        df = n - 1  # the paired test's, and a floor for Welch's on equal arms
        critical = float(t.ppf(1 - self.test_alpha, df))
        return float(nct.sf(critical, df, effect / (sd * math.sqrt(2 / n))))

    def seeds_needed(self, sd: float, effect: float | None = None) -> int | None:
        """Seeds per arm to detect `effect` (default min_effect) with this rule's power;
        None when it takes more than MAX_SEEDS, or there is no effect to detect."""
        effect = self.min_effect if effect is None else effect
        if effect <= 0:
            return None
        for n in range(MIN_SEEDS, MAX_SEEDS + 1):
            if self.power_at(effect, sd, n) >= self.power:
                return n
        return None

    def detectable_effect(self, sd: float, n: int) -> float:
        """The smallest true gain that n seeds per arm detect with this rule's power."""
        if sd <= 0:
            return 0.0
        if n < 2:
            return math.inf
        # power depends on effect / sd only: one root per (rule, n), in units of sd
        return sd * self._detectable_in_sd(n)

    @functools.cache  # noqa: B019 - a frozen rule is a value; a few dozen (rule, n) at most
    def _detectable_in_sd(self, n: int) -> float:
        from scipy.optimize import brentq

        high = 1.0
        while self.power_at(high, 1.0, n) < self.power:
            high *= 2
        return float(brentq(lambda e: self.power_at(e, 1.0, n) - self.power, 0.0, high,
                            xtol=1e-6))
