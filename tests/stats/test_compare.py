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

# rule: the interval is the Welch-t interval: mean difference +/- t(0.975, Welch df) * se
def test_interval_is_the_welch_t_interval() -> None:
    t, df = _hand_welch(BASELINE, PLANTED)
    diff = statistics.mean(PLANTED) - statistics.mean(BASELINE)
    half = float(scipy.stats.t.ppf(0.975, df)) * diff / t  # se = diff / t
    c = compare(BASELINE, PLANTED)
    assert (c.ci_low, c.ci_high) == pytest.approx((diff - half, diff + half), rel=1e-10)
    assert c.confidence_level == 0.95

# rule: the interval covers the true difference at its level, from 3 seeds up (a
# percentile bootstrap of 3 seeds covered about 80%); 800 draws give +/- 0.015 (2 SE)
@pytest.mark.parametrize("n", [3, 5])
def test_interval_covers_at_its_level(n: int) -> None:
    rng = np.random.default_rng(n)
    draws = 800
    covered = 0
    for _ in range(draws):
        a = rng.normal(0.90, 0.01, size=n)
        b = rng.normal(0.91, 0.02, size=n)  # unequal spreads: where Welch matters
        c = compare(a, b)
        covered += c.ci_low <= 0.01 <= c.ci_high
    assert covered / draws >= 0.93

# rule: a planted improvement of 0.05 over 5 seeds is called significant, with its reason
def test_planted_difference_is_significant() -> None:
    c = compare(BASELINE, PLANTED)
    assert c.verdict == "significant"
    assert c.p_value < 0.05 and c.ci_low > 0.0
    assert c.naive_rule
    assert c.p_improvement == 1.0
    assert "Welch p = " in c.reason and "< 0.05" in c.reason

# rule: an arm compared with itself is never significant
def test_arm_against_itself_is_not_significant() -> None:
    c = compare(BASELINE, BASELINE)
    assert c.verdict == "not_significant"
    assert c.mean_diff == 0.0
    assert c.p_value == pytest.approx(0.5)
    assert c.p_improvement == 0.5
    assert "is not below 0.05" in c.reason

# rule: min_effect does not raise the bar: a significant gain whose interval reaches
# below min_effect is still significant (a true gain of min_effect must be found)
def test_a_gain_near_min_effect_is_significant() -> None:
    small = [0.918, 0.918, 0.912, 0.924, 0.914]  # about +0.014
    c = compare(BASELINE, small, min_effect=0.01)
    assert c.ci_low < 0.01 < c.ci_high
    assert c.significant and not c.below_min_effect
    assert c.p_below is not None and c.p_below > 0.05

# rule: a real gain significantly smaller than min_effect is flagged, not hidden: the
# one-sided test of "gain >= min_effect" rejects (p_below < alpha); significance stands
def test_a_gain_significantly_below_min_effect_is_flagged() -> None:
    base = [0.900, 0.901, 0.899, 0.900, 0.900]
    tiny = [0.903, 0.904, 0.902, 0.903, 0.903]  # +0.003, very tight
    c = compare(base, tiny, min_effect=0.01)
    assert c.significant and c.below_min_effect
    assert c.ci_high < 0.01
    assert "significantly smaller than the minimum effect" in c.reason
    assert not compare(base, tiny, min_effect=0.0).below_min_effect

# rule: alpha is split over the family (Bonferroni): p = 0.02 passes alone, not in three
def test_family_splits_alpha() -> None:
    a = [0.9629, 0.9667, 0.9629, 0.9741, 0.9778]
    b = [0.9741, 0.9778, 0.9778, 0.9778, 0.9815]
    alone, three = compare(a, b), compare(a, b, family=3)
    assert alone.p_value == three.p_value and 0.0167 < alone.p_value < 0.05
    assert alone.significant and not three.significant
    assert three.test_alpha == pytest.approx(0.05 / 3)
    assert "split over 3 attempts" in three.reason

# rule: on the same seeds the paired t-test on the per-seed differences decides (the seed
# fixes init and data order, so same-seed runs move together); Welch's is reported beside
def test_paired_test_decides_on_the_same_seeds() -> None:
    a = [0.9629, 0.9667, 0.9629, 0.9741, 0.9778]
    b = [0.9741, 0.9778, 0.9778, 0.9778, 0.9815]
    c = compare(a, b, family=3, paired=True)
    ref = scipy.stats.ttest_rel(b, a, alternative="greater")
    assert c.test == "paired t"
    assert c.p_value == pytest.approx(float(ref.pvalue), rel=1e-10)
    assert c.df == 4 and c.t_statistic == pytest.approx(float(ref.statistic), rel=1e-10)
    assert c.correlation == pytest.approx(float(np.corrcoef(a, b)[0, 1]))
    assert c.ci_low < c.mean_diff < c.ci_high
    assert c.significant and "paired t p = " in c.reason  # Welch alone (p = 0.019) was not
    assert c.beside is not None and c.beside.test == "Welch"
    assert c.beside.p_value == pytest.approx(compare(a, b).p_value)
    unpaired = compare(a, b, family=3)
    assert unpaired.test == "Welch" and unpaired.beside is None and unpaired.correlation is None
    assert not unpaired.significant
    with pytest.raises(ValueError, match="paired"):
        compare(a, b[:4], paired=True)


# rule: a paired comparison of an arm with itself is never significant (every difference
# is zero: p = 1)
def test_paired_arm_against_itself_is_not_significant() -> None:
    c = compare(BASELINE, BASELINE, paired=True)
    assert not c.significant and c.p_value == 1.0 and c.mean_diff == 0.0
    assert "paired t p = 1 is not below 0.05" in c.reason


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
    assert back["family"] == 1 and back["test_alpha"] == 0.05 and back["beside"] is None
    assert back["test"] == "Welch"
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
        called += compare(a, b, alpha=alpha, min_effect=0.0).significant
    assert called / draws <= alpha + 0.02


# rule: the same nonzero difference on every seed, the arms still varying, is the limit of
# the paired test (t infinite): significant when positive, never when zero or negative
def test_identical_differences_on_every_seed() -> None:
    shifted = [v + 0.05 for v in BASELINE]
    up = compare(BASELINE, shifted, paired=True, min_effect=0.01)
    assert up.significant and up.p_value == 0.0 and not up.below_min_effect
    assert (up.ci_low, up.ci_high) == pytest.approx((0.05, 0.05))
    down = compare(shifted, BASELINE, paired=True)
    assert not down.significant and down.p_value == 1.0
    json.dumps(up.to_dict(), allow_nan=False)
    # no difference on any seed: never significant, and certainly below a minimum effect
    # (the sweep's race drops such a twin by it; p_below was None and kept it to the end)
    twin = compare(BASELINE, list(BASELINE), paired=True, min_effect=0.01)
    assert not twin.significant and twin.p_value == 1.0 and twin.p_below == 0.0
    assert compare(BASELINE, list(BASELINE), paired=True).p_below is None
