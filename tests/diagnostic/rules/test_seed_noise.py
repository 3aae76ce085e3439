"""phases.diagnostic.rules._seed_noise: the seeds min_effect needs under Phase 4's rule."""

from __future__ import annotations

import math

import pytest
import scipy.stats

from phases.diagnostic.rules import find_all, seed_advice
from tests.diagnostic.histories import by_id, evidence, seeds


def _power(effect: float, sd: float, n: int, alpha: float) -> float:
    """The rule's one-sided power for equal arms, by hand: noncentral t on n - 1 df."""
    df = n - 1
    return float(scipy.stats.nct.sf(scipy.stats.t.ppf(1 - alpha, df), df,
                                    effect / (sd * math.sqrt(2 / n))))


def test_seed_noise_against_the_minimum_effect() -> None:
    # val accuracy 2 points apart between seeds (std 2) against a 1-point min_effect, alpha
    # 0.05 over 3 attempts: the advice is the fewest seeds whose power reaches 80%
    runs = seeds(spread=0.02)
    noise = by_id(find_all(evidence(runs, min_effect=0.01, family=3)))["seed_noise"]
    needed = noise.evidence["seeds_needed"]
    assert noise.evidence["std"] == pytest.approx(2.0)
    assert noise.evidence["min_effect"] == 1.0 and noise.evidence["unit"] == "points"
    assert _power(0.01, 0.02, needed, 0.05 / 3) >= 0.8 > _power(0.01, 0.02, needed - 1, 0.05 / 3)
    assert noise.evidence["seeds"] == 3
    # 3 seeds detect the gain whose power is exactly 80%
    detectable = noise.evidence["detectable_effect"] / 100
    assert _power(detectable, 0.02, 3, 0.05 / 3) == pytest.approx(0.8, abs=1e-3)
    # medium, never high (issue 12): it sizes the experiment, it is no defect of the config
    assert noise.severity == "medium" and not noise.root_cause
    # the same spread against a 10-point effect is no problem
    assert "seed_noise" not in by_id(find_all(evidence(runs, min_effect=0.10)))


def test_alpha_split_over_more_attempts_asks_for_more_seeds() -> None:
    # Phase 4 tests each attempt at alpha / iteration_limit: the advice follows it
    runs = seeds(spread=0.01)
    one = seed_advice(evidence(runs, min_effect=0.01, family=1))
    five = seed_advice(evidence(runs, min_effect=0.01, family=5))
    assert one.needed is not None and five.needed is not None and five.needed > one.needed
    assert five.test_alpha == pytest.approx(0.01)


def test_advice_is_always_stated_and_counts_usable_runs_only() -> None:
    # enough seeds: no finding, but the advice still says what the seeds can detect
    runs = seeds(n=4, spread=0.001)
    runs[3] = [{**row, "train_loss": float("nan"), "val_loss": float("nan")} for row in runs[3]]
    ev = evidence(runs, min_effect=0.01)
    advice = seed_advice(ev)
    assert "seed_noise" not in by_id(find_all(ev))
    assert advice.seeds == 3  # the diverged seed is not counted
    assert advice.detectable is not None and advice.detectable < 0.01
    assert "3 seeds per arm detect a gain of" in advice.text


def test_a_baseline_that_barely_learns_gives_no_seed_count() -> None:
    # a flat train loss (stuck near chance): its wide spread is luck, not the project's noise
    runs = seeds(n=5, spread=0.05, train_loss=lambda e: 2.30 - 0.001 * e)
    ev = evidence(runs, min_effect=0.01)
    advice = seed_advice(ev)
    assert not advice.working and advice.needed is None
    assert "barely learns" in advice.text
    assert "seed_noise" not in by_id(find_all(ev))
