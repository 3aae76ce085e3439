"""workflow.stats._rule: the one rule, its level over a family and its power planning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from workflow.stats import MAX_SEEDS, Rule


# rule: each comparison of a family of k is tested at alpha / k (Bonferroni)
def test_test_alpha_is_split_over_the_family() -> None:
    assert Rule(alpha=0.05, family=3).test_alpha == pytest.approx(0.05 / 3)
    c = Rule(alpha=0.05, family=3).compare([0.90, 0.91, 0.89, 0.92, 0.90],
                                           [0.95, 0.96, 0.94, 0.96, 0.95])
    assert c.family == 3 and c.test_alpha == pytest.approx(0.05 / 3) and c.significant


# rule: power is the noncentral t on n - 1 df (the paired test with no same-seed
# correlation: a floor for either test)
def test_power_matches_the_noncentral_t() -> None:
    rule = Rule(alpha=0.05, power=0.8)
    df = 4
    ncp = 1.0 / (1.0 * math.sqrt(2 / 5))
    expected = scipy.stats.nct.sf(scipy.stats.t.ppf(0.95, df), df, ncp)
    assert rule.power_at(1.0, 1.0, 5) == pytest.approx(expected, rel=1e-12)


# rule: seeds_needed is the fewest seeds reaching the power; detectable_effect inverts it
def test_seeds_needed_and_detectable_effect_agree() -> None:
    rule = Rule(alpha=0.05, min_effect=1.0, power=0.8, family=3)
    n = rule.seeds_needed(1.0)
    assert n is not None
    assert rule.power_at(1.0, 1.0, n) >= 0.8 > rule.power_at(1.0, 1.0, n - 1)
    assert rule.detectable_effect(1.0, n) <= 1.0 < rule.detectable_effect(1.0, n - 1)
    assert rule.power_at(rule.detectable_effect(1.0, 7), 1.0, 7) == pytest.approx(0.8, abs=1e-6)
    # past MAX_SEEDS the advice is "raise min_effect", not a number
    assert Rule(min_effect=0.001).seeds_needed(1.0) is None
    assert MAX_SEEDS >= 100
    assert Rule().seeds_needed(1.0) is None  # min_effect 0: nothing to size for


# rule: by simulation through Rule.compare, a true gain of min_effect at the advised seeds is
# found at least as often as the power asked, paired (no correlation: the worst case) or
# not (600 draws each: +/- 0.033 at 2 SE)
@pytest.mark.parametrize("paired", [True, False])
def test_power_holds_by_simulation_at_the_advised_seeds(paired: bool) -> None:
    rule = Rule(alpha=0.05, min_effect=1.0, power=0.8, family=3)
    n = rule.seeds_needed(1.0)
    assert n is not None
    rng = np.random.default_rng(11)
    draws = 600
    found = sum(
        rule.compare(rng.normal(0.0, 1.0, n), rng.normal(1.0, 1.0, n), paired=paired).significant
        for _ in range(draws)
    )
    assert found / draws >= 0.8 - 0.033


def test_bad_rules_are_refused() -> None:
    for bad in ({"alpha": 0.0}, {"power": 1.0}, {"family": 0}, {"min_effect": -1.0},
                {"min_effect": math.inf}):
        with pytest.raises(ValueError):
            Rule(**bad)  # type: ignore[arg-type]
