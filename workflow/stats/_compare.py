"""Two arms compared: Welch's t, the bootstrap interval, Hedges' g, and the verdict."""

from __future__ import annotations

import inspect
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
    _fmt,
    _fmt_p,
    _json_float,
)
from workflow.stats._summary import ArmSummary, summarize


@dataclass(frozen=True)
class Comparison:
    """The evidence that `candidate` improves on `baseline`, and the verdict drawn from it.

    `mean_diff`, the interval, `t_statistic` and `hedges_g` are oriented so that a
    positive value is an improvement. `p_value` is the raw one-sided Welch p;
    `p_adjusted` is the one the verdict used (equal to `p_value` unless `correction`
    is "holm").
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
    ci_low: float
    ci_high: float
    confidence_level: float
    hedges_g: float | None  # None when the pooled standard deviation is zero
    naive_rule: bool
    alpha: float
    min_effect: float
    n_resamples: int
    seed: int
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
            "min_effect": self.min_effect,
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
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "baseline": self.baseline.to_dict(),
            "candidate": self.candidate.to_dict(),
        }


def _decide(
    *,
    p: float,
    ci_low: float,
    ci_high: float,
    alpha: float,
    min_effect: float,
    degenerate: bool,
    correction: str,
) -> tuple[bool, str]:
    """The verdict and its one-sentence reason."""
    if degenerate:
        return False, (
            "each arm gave one value on every seed, so seed noise cannot be measured and the "
            "Welch test is undefined (is the seed applied?)"
        )
    p_name = "Holm-adjusted p" if correction == "holm" else "p"
    p_ok = p < alpha
    ci_ok = ci_low > min_effect
    interval = f"the 95% interval [{_fmt(ci_low)}, {_fmt(ci_high)}]"
    p_part = (
        f"{p_name} = {_fmt_p(p)} < {_fmt_p(alpha)}"
        if p_ok
        else f"{p_name} = {_fmt_p(p)} is not below {_fmt_p(alpha)}"
    )
    ci_part = (
        f"{interval} lies above the minimum effect {_fmt(min_effect)}"
        if ci_ok
        else f"{interval} reaches below the minimum effect {_fmt(min_effect)}"
    )
    if p_ok and ci_ok:
        return True, f"{p_part} and {ci_part}"
    if p_ok:
        return False, f"{p_part} but {ci_part}"
    if ci_ok:
        return False, f"{p_part}, although {ci_part}"
    return False, f"{p_part} and {ci_part}"


def _bootstrap_interval(
    base: FloatArray, cand: FloatArray, *, n_resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(cand) - mean(base), the arms resampled apart.

    Percentile rather than scipy's default BCa: with 3 to 5 seeds BCa's jackknife
    acceleration rests on a handful of leave-one-out means, and it returns NaN when an
    arm is constant. The Welch test stays the primary gate; the interval says how big.
    """
    if np.all(base == base[0]) and np.all(cand == cand[0]):
        # every resample gives the same difference
        diff = float(cand[0] - base[0])
        return diff, diff

    from scipy.stats import bootstrap

    def mean_diff(b: FloatArray, c: FloatArray, axis: int) -> FloatArray:
        return np.asarray(np.mean(c, axis=axis) - np.mean(b, axis=axis))

    # scipy >= 1.15 takes `rng`; older releases call it `random_state`
    rng_key = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"
    result = bootstrap(
        (base, cand),
        mean_diff,
        n_resamples=n_resamples,
        vectorized=True,
        paired=False,
        confidence_level=CONFIDENCE_LEVEL,
        method="percentile",
        **{rng_key: np.random.default_rng(seed)},
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


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
    n_resamples: int = 9999,
    seed: int = 0,
) -> Comparison:
    """Compare two arms of per-seed results and say whether the candidate is better.

    >>> c = compare([0.90, 0.91, 0.89, 0.92, 0.90], [0.95, 0.96, 0.94, 0.96, 0.95])
    >>> c.verdict
    'significant'

    Raises ConfigError when an arm has fewer than MIN_SEEDS seeds (the seed count comes
    from the project config), ValueError for non-finite values or bad arguments.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, but got {alpha=}.")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, but got {n_resamples=}.")
    if not math.isfinite(min_effect):
        raise ValueError(f"min_effect must be finite, but got {min_effect=}.")
    base_raw = _as_values(baseline, "baseline")
    cand_raw = _as_values(candidate, "candidate")
    for name, arm in (("baseline", base_raw), ("candidate", cand_raw)):
        if arm.size < MIN_SEEDS:
            raise ConfigError(
                f"the {name} arm has {arm.size} seed(s), but a comparison needs at least "
                f"{MIN_SEEDS} per arm; raise `seeds` in the project config."
            )

    from scipy.stats import mannwhitneyu, ttest_ind

    # work in the improvement direction: larger is better for every statistic below
    sign = 1.0 if higher_is_better else -1.0
    base = sign * base_raw
    cand = sign * cand_raw
    degenerate = bool(np.all(base == base[0]) and np.all(cand == cand[0]))

    with warnings.catch_warnings():
        # scipy warns when an arm is constant; that case is handled, not a precision loss
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        if degenerate:
            t_stat: float | None = None
            df: float | None = None
            p_value = 1.0
        else:
            welch = ttest_ind(cand, base, equal_var=False, alternative="greater")
            t_stat, df, p_value = float(welch.statistic), float(welch.df), float(welch.pvalue)
        mw = mannwhitneyu(cand, base, alternative="greater")
    u_stat = float(mw.statistic)
    mw_p = float(mw.pvalue) if math.isfinite(mw.pvalue) else 1.0

    ci_low, ci_high = _bootstrap_interval(base, cand, n_resamples=n_resamples, seed=seed)
    base_sum, cand_sum = summarize(base_raw), summarize(cand_raw)
    significant, reason = _decide(
        p=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        alpha=alpha,
        min_effect=min_effect,
        degenerate=degenerate,
        correction="none",
    )
    return Comparison(
        baseline=base_sum,
        candidate=cand_sum,
        higher_is_better=higher_is_better,
        mean_diff=float(np.mean(cand) - np.mean(base)),
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
        min_effect=min_effect,
        n_resamples=n_resamples,
        seed=seed,
        significant=significant,
        reason=reason,
    )
