"""Two arms compared: Welch's t and its interval, the minimum-effect check, the paired view.

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
class Paired:
    """The same seeds in both arms: the per-seed differences, reported beside Welch's test.

    The seed fixes initialization, data order and the validation split, so same-seed runs
    of two configs can move together; `correlation` says how much they did. The verdict
    never reads this (the rule is chosen before the data are seen: see the package).
    """

    n: int
    mean_diff: float
    t_statistic: float | None  # None: every difference is the same
    p_value: float | None
    ci_low: float
    ci_high: float
    correlation: float | None  # Pearson's r of the two arms' same-seed values

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean_diff": self.mean_diff,
            "t_statistic": _json_float(self.t_statistic),
            "p_value": _json_float(self.p_value),
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "correlation": _json_float(self.correlation),
        }


@dataclass(frozen=True)
class Comparison:
    """The evidence that `candidate` improves on `baseline`, and the verdict drawn from it.

    `mean_diff`, the interval, `t_statistic` and `hedges_g` are oriented so that a
    positive value is an improvement. `p_value` is the raw one-sided Welch p; `p_adjusted`
    is the one the verdict used (equal to `p_value` unless `correction` is "holm").
    `test_alpha` is the project's alpha split over `family` comparisons (Bonferroni).
    """

    baseline: ArmSummary
    candidate: ArmSummary
    higher_is_better: bool
    mean_diff: float
    t_statistic: float | None  # None when both arms are constant: the test is undefined
    df: float | None
    p_value: float
    p_adjusted: float
    correction: str  # "none" | "holm"
    u_statistic: float  # pairs where the candidate is better, ties counting one half
    mw_p_value: float
    p_improvement: float
    ci_low: float  # Welch-t interval of the mean difference at `confidence_level`
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
    paired: Paired | None
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
            "paired": self.paired.to_dict() if self.paired is not None else None,
            "baseline": self.baseline.to_dict(),
            "candidate": self.candidate.to_dict(),
        }


def _decide(
    *,
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
            "each arm gave one value on every seed, so seed noise cannot be measured and the "
            "Welch test is undefined (is the seed applied?)"
        )
    p_name = "Holm-adjusted Welch p" if correction == "holm" else "Welch p"
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


def _welch(base: FloatArray, cand: FloatArray) -> tuple[float, float]:
    """The standard error of mean(cand) - mean(base) and its Welch-Satterthwaite df."""
    a, b = np.var(base, ddof=1) / base.size, np.var(cand, ddof=1) / cand.size
    se2 = float(a + b)
    denominator = a**2 / (base.size - 1) + b**2 / (cand.size - 1)
    return math.sqrt(se2), float(se2**2 / denominator) if denominator > 0 else math.inf


def _paired(base: FloatArray, cand: FloatArray) -> Paired:
    from scipy.stats import t

    d = cand - base
    n, mean = d.size, float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        t_stat = p = None
        low = high = mean
    else:
        se = sd / math.sqrt(n)
        t_stat = mean / se
        p = float(t.sf(t_stat, n - 1))
        low, high = _t_interval(mean, se, n - 1)
    constant = np.all(base == base[0]) or np.all(cand == cand[0])
    r = None if constant else float(np.corrcoef(base, cand)[0, 1])
    return Paired(n, mean, t_stat, p, low, high, r)


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
    seed, so the paired view is reported beside the verdict.

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

    from scipy.stats import mannwhitneyu, t

    # work in the improvement direction: larger is better for every statistic below
    sign = 1.0 if higher_is_better else -1.0
    base = sign * base_raw
    cand = sign * cand_raw
    diff = float(np.mean(cand) - np.mean(base))
    degenerate = bool(np.all(base == base[0]) and np.all(cand == cand[0]))
    test_alpha = alpha / family

    if degenerate:
        t_stat: float | None = None
        df: float | None = None
        p_value, p_below = 1.0, None
        ci_low = ci_high = diff
    else:
        se, df = _welch(base, cand)
        t_stat = diff / se
        p_value = float(t.sf(t_stat, df))
        # "the gain is at least min_effect" rejected: a real gain too small to be worth it
        p_below = float(t.cdf((diff - min_effect) / se, df)) if min_effect > 0 else None
        ci_low, ci_high = _t_interval(diff, se, df)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        mw = mannwhitneyu(cand, base, alternative="greater")
    u_stat = float(mw.statistic)
    mw_p = float(mw.pvalue) if math.isfinite(mw.pvalue) else 1.0

    base_sum, cand_sum = summarize(base_raw), summarize(cand_raw)
    significant, below, reason = _decide(
        p=p_value, p_below=p_below, test_alpha=test_alpha, alpha=alpha, family=family,
        degenerate=degenerate, correction="none",
    )
    return Comparison(
        baseline=base_sum,
        candidate=cand_sum,
        higher_is_better=higher_is_better,
        mean_diff=diff,
        t_statistic=t_stat,
        df=df,
        p_value=p_value,
        p_adjusted=p_value,
        correction="none",
        u_statistic=u_stat,
        mw_p_value=mw_p,
        p_improvement=u_stat / (base.size * cand.size),
        ci_low=ci_low,
        ci_high=ci_high,
        confidence_level=CONFIDENCE_LEVEL,
        hedges_g=_hedges_g(base, cand),
        naive_rule=bool(np.mean(cand) - 2.0 * cand_sum.std > np.mean(base)),
        alpha=alpha,
        family=family,
        test_alpha=test_alpha,
        min_effect=min_effect,
        p_below=p_below,
        below_min_effect=below,
        paired=_paired(base, cand) if paired else None,
        significant=significant,
        reason=reason,
    )
