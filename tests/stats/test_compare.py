"""workflow.stats._compare: each statistic against an independent computation, and the verdict."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import warnings

import numpy as np
import pytest
import scipy.stats

from workflow.errors import ConfigError, WorkflowError
from workflow.stats import MIN_SEEDS, compare

BASELINE = [0.900, 0.910, 0.890, 0.920, 0.900]
# baseline + 0.05, with noise that is not a shift of the baseline's
PLANTED = [0.954, 0.956, 0.948, 0.962, 0.951]


def _hand_welch(x: list[float], y: list[float]) -> tuple[float, float]:
    """t and Welch-Satterthwaite df of mean(y) - mean(x), by the textbook formula."""
    n1, n2 = len(x), len(y)
    m1, m2 = sum(x) / n1, sum(y) / n2
    v1 = sum((v - m1) ** 2 for v in x) / (n1 - 1)
    v2 = sum((v - m2) ** 2 for v in y) / (n2 - 1)
    se2 = v1 / n1 + v2 / n2
    t = (m2 - m1) / math.sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    return t, df


# rule: the Welch t, its df and the one-sided p are the textbook ones (p = t.sf(t, df))
def test_welch_t_df_and_one_sided_p_match_the_hand_formula() -> None:
    x = [0.80, 0.83, 0.79, 0.81]
    y = [0.82, 0.86, 0.81, 0.84, 0.90, 0.83]  # unequal n and variances: df is not n1+n2-2
    t, df = _hand_welch(x, y)
    c = compare(x, y)
    assert c.t_statistic == pytest.approx(t, rel=1e-10)
    assert c.df == pytest.approx(df, rel=1e-10)
    assert c.p_value == pytest.approx(float(scipy.stats.t.sf(t, df)), rel=1e-10)
    assert c.mean_diff == pytest.approx(sum(y) / len(y) - sum(x) / len(x))

# rule: Hedges' g is Cohen's d on the pooled SD times 1 - 3 / (4 (n1 + n2 - 2) - 1)
def test_hedges_g_matches_the_hand_formula() -> None:
    x = [0.80, 0.83, 0.79, 0.81]
    y = [0.82, 0.86, 0.81, 0.84, 0.90, 0.83]
    n1, n2 = len(x), len(y)
    ss1 = sum((v - sum(x) / n1) ** 2 for v in x)
    ss2 = sum((v - sum(y) / n2) ** 2 for v in y)
    pooled_sd = math.sqrt((ss1 + ss2) / (n1 + n2 - 2))
    d = (sum(y) / n2 - sum(x) / n1) / pooled_sd
    g = d * (1 - 3 / (4 * (n1 + n2 - 2) - 1))
    assert compare(x, y).hedges_g == pytest.approx(g, rel=1e-10)

# rule: U counts the pairs where the candidate wins (ties one half); p_improvement = U / n1 n2
def test_u_and_probability_of_improvement_count_pairs() -> None:
    x = [0.80, 0.83, 0.79, 0.81, 0.82]
    y = [0.82, 0.86, 0.81, 0.84, 0.78]  # two ties across the arms (0.81, 0.82)
    wins = sum(1.0 if b > a else 0.5 if b == a else 0.0 for a in x for b in y)
    c = compare(x, y)
    assert c.u_statistic == wins
    assert c.p_improvement == pytest.approx(wins / 25)

# rule: with no ties the one-sided Mann-Whitney p is the exact permutation tail P(U >= u)
def test_mann_whitney_p_matches_a_full_permutation_count() -> None:
    x = [0.80, 0.83, 0.79, 0.81]
    y = [0.82, 0.86, 0.815, 0.84]
    pooled = x + y

    def u_of(cand: list[float], base: list[float]) -> int:
        return sum(b > a for a in base for b in cand)

    observed = u_of(y, x)
    splits = list(itertools.combinations(range(8), 4))
    tail = sum(
        u_of([pooled[i] for i in s], [pooled[i] for i in range(8) if i not in s]) >= observed
        for s in splits
    )
    assert compare(x, y).mw_p_value == pytest.approx(tail / len(splits))

# rule: the interval is a percentile bootstrap of the mean difference, arms resampled apart
def test_bootstrap_interval_matches_a_hand_rolled_bootstrap() -> None:
    c = compare(BASELINE, PLANTED, n_resamples=20_000, seed=1)
    rng = np.random.default_rng(12345)  # a different stream: only Monte Carlo error may differ
    base, cand = np.array(BASELINE), np.array(PLANTED)
    draws = 20_000
    diffs = cand[rng.integers(0, 5, size=(draws, 5))].mean(axis=1) - base[
        rng.integers(0, 5, size=(draws, 5))
    ].mean(axis=1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    width = high - low
    assert c.ci_low == pytest.approx(low, abs=0.05 * width)
    assert c.ci_high == pytest.approx(high, abs=0.05 * width)
    assert c.ci_low < c.mean_diff < c.ci_high

# rule: the same seed gives the same interval (reports are reproducible)
def test_bootstrap_is_seeded() -> None:
    a = compare(BASELINE, PLANTED, seed=7)
    b = compare(BASELINE, PLANTED, seed=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)

# rule: a planted improvement of 0.05 over 5 seeds is called significant, with its reason
def test_planted_difference_is_significant() -> None:
    c = compare(BASELINE, PLANTED)
    assert c.verdict == "significant"
    assert c.p_value < 0.05 and c.ci_low > 0.0
    assert c.naive_rule
    assert c.p_improvement == 1.0
    assert "< 0.05" in c.reason and "lies above the minimum effect" in c.reason

# rule: an arm compared with itself is never significant
def test_arm_against_itself_is_not_significant() -> None:
    c = compare(BASELINE, BASELINE)
    assert c.verdict == "not_significant"
    assert c.mean_diff == 0.0
    assert c.p_value == pytest.approx(0.5)
    assert c.p_improvement == 0.5
    assert "is not below 0.05" in c.reason

# rule: p < alpha is not enough; the interval must clear min_effect as well
def test_improvement_smaller_than_min_effect_is_not_significant() -> None:
    small = [0.918, 0.918, 0.912, 0.924, 0.914]  # about +0.014
    c = compare(BASELINE, small, min_effect=0.01)
    assert c.p_value < 0.05  # the test alone would have said yes
    assert c.ci_low < 0.01
    assert c.verdict == "not_significant"
    assert "but the 95% interval" in c.reason
    assert "reaches below the minimum effect 0.01" in c.reason
    # the same data pass once the bar is lowered to zero
    assert compare(BASELINE, small, min_effect=0.0).significant

# rule: for a lower-is-better metric a drop is an improvement, and differences are flipped
def test_lower_is_better_flips_the_direction() -> None:
    loss_base = [0.50, 0.52, 0.49, 0.51, 0.50]
    loss_cand = [0.452, 0.466, 0.441, 0.463, 0.449]
    c = compare(loss_base, loss_cand, higher_is_better=False)
    assert c.verdict == "significant"
    assert c.mean_diff > 0 and c.ci_low > 0 and c.hedges_g is not None and c.hedges_g > 0
    assert c.naive_rule  # mean + 2 std < baseline mean
    assert c.candidate.mean < c.baseline.mean  # summaries stay in the metric's own units
    # second route: negating both arms and asking "higher is better" gives the same numbers
    n = compare([-v for v in loss_base], [-v for v in loss_cand], higher_is_better=True)
    assert (c.p_value, c.mean_diff, c.hedges_g) == pytest.approx(
        (n.p_value, n.mean_diff, n.hedges_g)
    )
    assert (c.ci_low, c.ci_high) == pytest.approx((n.ci_low, n.ci_high))
    # the same drop read as "higher is better" is a loss, never significant
    worse = compare(loss_base, loss_cand, higher_is_better=True)
    assert worse.mean_diff < 0 and worse.verdict == "not_significant"
    assert not worse.naive_rule

# rule: the naive rule is reported beside the verdict and can disagree with it
def test_naive_rule_is_reported_not_decisive() -> None:
    noisy = [0.92, 0.98, 0.93, 0.96, 0.95]  # a clear gain, but 2 std eats it
    c = compare(BASELINE, noisy)
    mean, std = statistics.mean(noisy), statistics.stdev(noisy)
    assert c.naive_rule == (mean - 2 * std > statistics.mean(BASELINE))
    assert c.significant and not c.naive_rule

# rule: identical constant arms never crash and are never significant; output stays JSON
def test_constant_arms_are_handled() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = compare([0.9] * 5, [0.9] * 5)
        apart = compare([0.9] * 5, [0.95] * 5)  # a deterministic trainer ignoring the seed
        one = compare([0.9] * 5, PLANTED)  # only one arm constant: Welch still defined
    for c in (same, apart):
        assert c.verdict == "not_significant"
        assert c.p_value == 1.0 and c.t_statistic is None and c.hedges_g is None
        assert "seed noise cannot be measured" in c.reason
        json.dumps(c.to_dict(), allow_nan=False)
    assert (apart.ci_low, apart.ci_high) == pytest.approx((0.05, 0.05))
    assert one.t_statistic is not None and one.significant

# rule: fewer than 3 seeds is a user config problem (ConfigError); NaN is refused by position
def test_bad_inputs_are_refused_with_clear_messages() -> None:
    assert MIN_SEEDS == 3
    with pytest.raises(ConfigError, match="candidate arm has 2 seed"):
        compare(BASELINE, [0.9, 0.91])
    with pytest.raises(WorkflowError, match="at least 3"):
        compare([0.9], BASELINE)
    with pytest.raises(ValueError, match=r"non-finite values at positions \[1\]"):
        compare(BASELINE, [0.9, float("nan"), 0.92])
    with pytest.raises(ValueError, match="alpha"):
        compare(BASELINE, PLANTED, alpha=1.5)

# rule: to_dict is plain JSON and carries the verdict, its inputs and both arm summaries
def test_to_dict_is_plain_json() -> None:
    d = compare(BASELINE, PLANTED, min_effect=0.01).to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    for key in (
        "verdict", "p_value", "ci_low", "ci_high", "mean_diff", "hedges_g",
        "p_improvement", "naive_rule", "reason", "alpha", "min_effect",
    ):  # fmt: skip
        assert key in back
    assert back["verdict"] == "significant"
    assert back["min_effect"] == 0.01
    assert back["baseline"]["values"] == BASELINE
    assert back["candidate"]["std"] == pytest.approx(statistics.stdev(PLANTED))

# rule: 2,000 A/A comparisons (same distribution, 5 seeds) are called significant at most
# alpha + 0.02 of the time; the verdict needs Welch p < alpha, which alone bounds it near alpha
def test_a_a_false_positive_rate_stays_near_alpha() -> None:
    rng = np.random.default_rng(2024)
    alpha = 0.05
    draws = 2000
    called = 0
    for _ in range(draws):
        a = rng.normal(0.9, 0.01, size=5)
        b = rng.normal(0.9, 0.01, size=5)
        called += compare(a, b, alpha=alpha, min_effect=0.0, n_resamples=999).significant
    assert called / draws <= alpha + 0.02
