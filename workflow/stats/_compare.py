"""Two arms compared: the deciding t-test and its interval, the minimum-effect check, and
the other test beside it.

See the package docstring for the rule. Every statistic here is oriented so that a
positive value is an improvement.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from workflow.errors import ConfigError
from workflow.stats._common import (
    CONFIDENCE_LEVEL,
    MIN_SEEDS,
    FloatArray,
    Values,
    _as_values,
    _fmt_p,
    _json_float,
)
from workflow.stats._summary import ArmSummary, summarize


@dataclass(frozen=True)
class TTest:
    """One one-sided t-test of the oriented difference: statistic, df, p, 95% interval, and
    the p of "the gain is at least min_effect" (None when min_effect is 0).

    The deciding test's numbers are the `Comparison`'s own; the other test (Welch's, when
    the paired test decides) is `Comparison.beside`, so a reader sees what ignoring the
    pairing would have said.
    """

    test: str
    t_statistic: float | None  # None: no spread to test against
    df: float | None
    p_value: float
    ci_low: float
    ci_high: float
    p_below: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "t_statistic": _json_float(self.t_statistic),
            "df": _json_float(self.df),
            "p_value": self.p_value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_below": _json_float(self.p_below),
        }


@dataclass(frozen=True)
class Comparison:
    """The evidence that `candidate` improves on `baseline`, and the verdict drawn from it.

    `mean_diff`, the interval, `t_statistic` and `hedges_g` are oriented so that a
    positive value is an improvement. `test` names the deciding test ("paired t" when the
    arms ran the same seeds, else "Welch"); `t_statistic`, `df`, `p_value`, the interval
    and `p_below` are its. `p_adjusted` is the p the verdict used (equal to `p_value`
    unless `correction` is "holm"). `test_alpha` is the project's alpha split over
    `family` comparisons (Bonferroni). `beside` is the other test, for the reader.
    """

    baseline: ArmSummary
    candidate: ArmSummary
    higher_is_better: bool
    mean_diff: float
    test: str  # "paired t" | "Welch"
    t_statistic: float | None  # None when there is no spread: the test is undefined
    df: float | None
    p_value: float
    p_adjusted: float
    correction: str  # "none" | "holm"
    u_statistic: float  # pairs where the candidate is better, ties counting one half
    mw_p_value: float
    p_improvement: float
    ci_low: float  # the deciding test's t interval of the mean difference at confidence_level
    ci_high: float
    confidence_level: float
    hedges_g: float | None  # None when the pooled standard deviation is zero
    naive_rule: bool
    alpha: float
    family: int
    test_alpha: float
    min_effect: float
    p_below: float | None  # one-sided p of "the gain is at least min_effect" (None: min_effect 0)
    below_min_effect: bool  # significantly smaller than min_effect: a real gain not worth it
    beside: TTest | None
    correlation: float | None  # same-seed Pearson r of the two arms (paired arms only)
    significant: bool
    reason: str

    @property
    def verdict(self) -> str:
        return "significant" if self.significant else "not_significant"

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, bools and strings; undefined statistics are None, never NaN."""
        return {
            "verdict": self.verdict,
            "significant": self.significant,
            "reason": self.reason,
            "higher_is_better": self.higher_is_better,
            "alpha": self.alpha,
            "family": self.family,
            "test_alpha": self.test_alpha,
            "min_effect": self.min_effect,
            "p_below": _json_float(self.p_below),
            "below_min_effect": self.below_min_effect,
            "mean_diff": self.mean_diff,
            "test": self.test,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "correction": self.correction,
            "t_statistic": _json_float(self.t_statistic),
            "df": _json_float(self.df),
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence_level": self.confidence_level,
            "hedges_g": _json_float(self.hedges_g),
            "u_statistic": self.u_statistic,
            "mw_p_value": self.mw_p_value,
            "p_improvement": self.p_improvement,
            "naive_rule": self.naive_rule,
            "beside": self.beside.to_dict() if self.beside is not None else None,
            "correlation": _json_float(self.correlation),
            "baseline": self.baseline.to_dict(),
            "candidate": self.candidate.to_dict(),
        }


def _decide(
    *,
    test: str,
    p: float,
    p_below: float | None,
    test_alpha: float,
    alpha: float,
    family: int,
    degenerate: bool,
    correction: str,
) -> tuple[bool, bool, str]:
    """The verdict, whether the gain is significantly under min_effect, and one sentence."""
    if degenerate:
        return False, False, (
            "the values do not vary across seeds, so seed noise cannot be measured and the "
            f"{test} test is undefined (is the seed applied?)"
        )
    p_name = f"Holm-adjusted {test} p" if correction == "holm" else f"{test} p"
    level = (f"alpha {_fmt_p(alpha)} split over {family} attempts" if family > 1
             else f"alpha {_fmt_p(alpha)}")
    significant = p < test_alpha
    below = p_below is not None and p_below < test_alpha
    if not significant:
        return False, below, f"{p_name} = {_fmt_p(p)} is not below {_fmt_p(test_alpha)} ({level})"
    text = f"{p_name} = {_fmt_p(p)} < {_fmt_p(test_alpha)} ({level})"
    if below:
        text += (f", but the gain is significantly smaller than the minimum effect "
                 f"(p = {_fmt_p(p_below or 0.0)})")
    return True, below, text


def _t_interval(diff: float, se: float, df: float | None) -> tuple[float, float]:
    """diff +/- t(df) * se at CONFIDENCE_LEVEL: a Welch-t interval covers at its level."""
    if df is None or se == 0.0:
        return diff, diff
    from scipy.stats import t

    half = float(t.ppf(0.5 + CONFIDENCE_LEVEL / 2, df)) * se
    return diff - half, diff + half


def _t_test(name: str, diff: float, se: float, df: float, min_effect: float) -> TTest:
    """The one-sided t-test of `diff` > 0 with standard error `se`, its interval and the
    one-sided p of "the gain is at least min_effect" (None when min_effect is 0)."""
    from scipy.stats import t

    if se == 0.0 or not math.isfinite(df):
        # the same difference on every seed (the arms still vary, or compare() would have
        # called it degenerate): t is infinite, its sign the difference's
        p_below = (0.0 if diff < min_effect else 1.0) if min_effect > 0 else None
        if diff == 0.0:  # no gain on any seed: certainly below a positive min_effect
            return TTest(name, None, None, 1.0, diff, diff, p_below)
        return TTest(name, math.copysign(math.inf, diff), df if math.isfinite(df) else None,
                     0.0 if diff > 0 else 1.0, diff, diff, p_below)
    p_below = float(t.cdf((diff - min_effect) / se, df)) if min_effect > 0 else None
    low, high = _t_interval(diff, se, df)
    return TTest(name, diff / se, df, float(t.sf(diff / se, df)), low, high, p_below)


def _welch(base: FloatArray, cand: FloatArray, min_effect: float) -> TTest:
    """Welch's test: the arms' own variances, Welch-Satterthwaite df."""
    a, b = np.var(base, ddof=1) / base.size, np.var(cand, ddof=1) / cand.size
    se2 = float(a + b)
    denominator = a**2 / (base.size - 1) + b**2 / (cand.size - 1)
    df = float(se2**2 / denominator) if denominator > 0 else math.inf
    return _t_test("Welch", float(np.mean(cand) - np.mean(base)), math.sqrt(se2), df,
                   min_effect)


def _paired(base: FloatArray, cand: FloatArray, min_effect: float) -> TTest:
    """The paired t-test on the per-seed differences (n - 1 df)."""
    d = cand - base
    sd = float(np.std(d, ddof=1))
    return _t_test("paired t", float(np.mean(d)), sd / math.sqrt(d.size), d.size - 1,
                   min_effect)


def _hedges_g(base: FloatArray, cand: FloatArray) -> float | None:
    """Cohen's d on the pooled SD, times Hedges' small-sample correction 1 - 3/(4 df - 1)."""
    if np.all(base == base[0]) and np.all(cand == cand[0]):
        return None  # (the mean of a constant arm can be off by one ulp: no tiny fake SD)
    n1, n2 = base.size, cand.size
    df = n1 + n2 - 2
    pooled_var = ((n1 - 1) * np.var(base, ddof=1) + (n2 - 1) * np.var(cand, ddof=1)) / df
    if pooled_var <= 0.0:
        return None
    d = (np.mean(cand) - np.mean(base)) / math.sqrt(pooled_var)
    return float(d * (1.0 - 3.0 / (4.0 * df - 1.0)))


def compare(
    baseline: Values,
    candidate: Values,
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    family: int = 1,
    paired: bool = False,
) -> Comparison:
    """Compare two arms of per-seed results and say whether the candidate is better.

    `family`: how many such comparisons share `alpha` (Phase 4's iteration limit); each is
    tested at alpha / family. `paired`: the i-th values of both arms come from the same
    seed, so the paired t-test decides and Welch's is reported beside it.

    >>> c = compare([0.90, 0.91, 0.89, 0.92, 0.90], [0.95, 0.96, 0.94, 0.96, 0.95])
    >>> c.verdict
    'significant'

    Raises ConfigError when an arm has fewer than MIN_SEEDS seeds (the seed count comes
    from the project config), ValueError for non-finite values or bad arguments.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, but got {alpha=}.")
    if not math.isfinite(min_effect) or min_effect < 0:
        raise ValueError(f"min_effect must be finite and not negative, but got {min_effect=}.")
    if family < 1:
        raise ValueError(f"family must be at least 1, but got {family=}.")
    base_raw = _as_values(baseline, "baseline")
    cand_raw = _as_values(candidate, "candidate")
    for name, arm in (("baseline", base_raw), ("candidate", cand_raw)):
        if arm.size < MIN_SEEDS:
            raise ConfigError(
                f"the {name} arm has {arm.size} seed(s), but a comparison needs at least "
                f"{MIN_SEEDS} per arm; raise `seeds` in the project config."
            )
    if paired and base_raw.size != cand_raw.size:
        raise ValueError(f"paired arms need as many values, but got {base_raw.size} and "
                         f"{cand_raw.size}.")

    from scipy.stats import mannwhitneyu

    # work in the improvement direction: larger is better for every statistic below
    sign = 1.0 if higher_is_better else -1.0
    base = sign * base_raw
    cand = sign * cand_raw
    diff = float(np.mean(cand) - np.mean(base))
    test_alpha = alpha / family
    # the same seeds: the seed fixes init and data order, so same-seed runs move together
    # and the paired test decides; the choice follows the design, never the data
    welch = _welch(base, cand, min_effect)
    deciding = _paired(base, cand, min_effect) if paired else welch
    # no seed noise at all: nothing to test against (a trainer that ignores the seed?)
    degenerate = bool(np.all(base == base[0]) and np.all(cand == cand[0]))
    if degenerate:
        deciding = TTest(deciding.test, None, None, 1.0, diff, diff, None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        mw = mannwhitneyu(cand, base, alternative="greater")
    u_stat = float(mw.statistic)
    mw_p = float(mw.pvalue) if math.isfinite(mw.pvalue) else 1.0
    constant = bool(np.all(base == base[0]) or np.all(cand == cand[0]))
    correlation = (float(np.corrcoef(base, cand)[0, 1]) if paired and not constant else None)

    base_sum, cand_sum = summarize(base_raw), summarize(cand_raw)
    significant, below, reason = _decide(
        test=deciding.test, p=deciding.p_value, p_below=deciding.p_below,
        test_alpha=test_alpha, alpha=alpha, family=family, degenerate=degenerate,
        correction="none",
    )
    return Comparison(
        baseline=base_sum,
        candidate=cand_sum,
        higher_is_better=higher_is_better,
        mean_diff=diff,
        test=deciding.test,
        t_statistic=deciding.t_statistic,
        df=deciding.df,
        p_value=deciding.p_value,
        p_adjusted=deciding.p_value,
        correction="none",
        u_statistic=u_stat,
        mw_p_value=mw_p,
        p_improvement=u_stat / (base.size * cand.size),
        ci_low=deciding.ci_low,
        ci_high=deciding.ci_high,
        confidence_level=CONFIDENCE_LEVEL,
        hedges_g=_hedges_g(base, cand),
        naive_rule=bool(np.mean(cand) - 2.0 * cand_sum.std > np.mean(base)),
        alpha=alpha,
        family=family,
        test_alpha=test_alpha,
        min_effect=min_effect,
        p_below=deciding.p_below,
        below_min_effect=below,
        beside=welch if paired else None,
        correlation=correlation,
        significant=significant,
        reason=reason,
    )
