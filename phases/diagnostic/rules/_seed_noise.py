"""Seed noise: the baseline varies so much across seeds that the project's seeds cannot show
the gains it seeks. The seeds a one-sided test at the project's alpha needs, with this power,
to detect its min_effect given the baseline's spread across seeds."""

from __future__ import annotations

import math
from statistics import NormalDist

from phases.diagnostic.evidence import Evidence, std
from phases.diagnostic.rules._base import Finding, Rule, r

__all__ = ["SEED_NOISE_POWER", "SeedNoise", "seeds_needed"]

SEED_NOISE_POWER = 0.80


def _z(alpha: float, power: float) -> float:
    return NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(power)


def seeds_needed(spread: float, min_effect: float, alpha: float, power: float) -> int:
    """Seeds per arm for a one-sided two-sample test to detect `min_effect` (normal approx.)."""
    return max(2, math.ceil(2 * (_z(alpha, power) * spread / min_effect) ** 2))


class SeedNoise(Rule):
    id = "seed_noise"
    title = "Seed noise too large for the gains sought"
    root_cause = False

    def check(self, ev: Evidence) -> Finding | None:
        values = ev.target_values()
        if len(values) < 2 or ev.min_effect <= 0:
            return None
        spread = std(values)
        n = len(ev.runs)
        needed = seeds_needed(spread, ev.min_effect, ev.alpha, SEED_NOISE_POWER)
        if needed <= n:
            return None
        detectable = _z(ev.alpha, SEED_NOISE_POWER) * spread * math.sqrt(2 / n)
        rate = ev.target.is_rate
        scale = 100.0 if rate else 1.0
        unit = "points" if rate else ""
        return self.found("high" if needed > 2 * n else "medium", {
            "std": r(scale * spread, 3),
            "min_effect": r(scale * ev.min_effect, 3),
            "detectable_effect": r(scale * detectable, 3),
            "unit": unit or ev.metric,
            "seeds": n,
            "seeds_needed": needed,
            "power": SEED_NOISE_POWER,
        }, f"the target {ev.metric} varies by {scale * spread:.2f} {unit} (std) across "
           f"{len(values)} seeds, so {n} seeds per arm detect only effects of about "
           f"{scale * detectable:.2f} {unit}, not the {scale * ev.min_effect:.2f} sought; about "
           f"{needed} seeds per arm are needed ({100 * SEED_NOISE_POWER:.0f}% power)")
