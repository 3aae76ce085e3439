"""Is a candidate really better than the baseline, or could seed noise explain it?

Phase 4 compares two arms of per-seed results (the same seeds in both arms). The
arms are still treated as independent samples, as the design says: a shared seed
does not make two different configs' runs a matched pair.

An improvement is significant when both hold:

- a one-sided Welch t-test in the improvement direction gives p < alpha (Holm-adjusted
  when several candidates face one baseline), and
- the lower bound of the bootstrap 95% interval of the mean difference lies above the
  minimum effect.

Hedges' g, the probability of improvement (Mann-Whitney U / n1 n2) and the naive
`mean - 2 std > baseline` rule are reported beside the verdict; they never decide it.
For two models' predictions on one test set there is `mcnemar`.

Every difference is oriented so that a positive value is an improvement: for a metric
where lower is better (a loss) the sign is flipped.

scipy is imported inside the functions: it takes most of a second to import, and
`phasegate status` should not pay for it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from workflow.errors import ConfigError

__all__ = [
    "MIN_SEEDS",
    "CONFIDENCE_LEVEL",
    "ArmSummary",
    "Comparison",
    "McNemarResult",
    "summarize",
    "compare",
    "compare_many",
    "holm",
    "mcnemar",
]

MIN_SEEDS = 3
CONFIDENCE_LEVEL = 0.95
# below this many discordant pairs the chi-square approximation is poor
MCNEMAR_EXACT_BELOW = 25

FloatArray = npt.NDArray[np.float64]
# per-seed results: a list from a results file, or an array
Values = Sequence[float] | npt.NDArray[np.floating[Any]]


def _as_values(values: Values, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers, but got shape {array.shape}.")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        # a diverged seed is a decision for the caller (fail the arm, or drop the seed
        # and say so); averaging a NaN away here would hide it
        raise ValueError(
            f"{name} holds non-finite values at positions {bad.tolist()} "
            f"({[float(array[i]) for i in bad]}); drop or fail diverged seeds before comparing."
        )
    return array


def _json_float(x: float | None) -> float | None:
    """A float that `json.dumps(allow_nan=False)` accepts: NaN and infinities become None."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _fmt_p(p: float) -> str:
    return f"{p:.3g}"


@dataclass(frozen=True)
class ArmSummary:
    """One arm's per-seed results: count, mean, sample std (ddof=1), extremes, raw values."""

    n: int
    mean: float
    std: float  # NaN when n == 1
    min: float
    max: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": _json_float(self.std),
            "min": self.min,
            "max": self.max,
            "values": list(self.values),
        }


def summarize(values: Values) -> ArmSummary:
    """Mean, sample standard deviation (ddof=1), min and max of one arm."""
    array = _as_values(values, "values")
    if array.size == 0:
        raise ValueError("cannot summarize an empty arm.")
    std = float(np.std(array, ddof=1)) if array.size > 1 else math.nan
    return ArmSummary(
        n=int(array.size),
        mean=float(np.mean(array)),
        std=std,
        min=float(np.min(array)),
        max=float(np.max(array)),
        values=tuple(float(v) for v in array),
    )


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


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values, in the order given.

    The i-th smallest of m p-values is multiplied by (m - i + 1); a running maximum keeps
    the adjusted values in the same order as the raw ones, and they are capped at 1.
    """
    ps = [float(p) for p in p_values]
    for p in ps:
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"p-values must lie in [0, 1], but got {p}.")
    m = len(ps)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=ps.__getitem__)):
        running = max(running, min(1.0, (m - rank) * ps[index]))
        adjusted[index] = running
    return adjusted


def compare_many(
    baseline: Values,
    candidates: Mapping[str, Values],
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    n_resamples: int = 9999,
    seed: int = 0,
) -> dict[str, Comparison]:
    """Compare several candidates with one baseline; each verdict uses its Holm-adjusted p."""
    raw = {
        name: compare(
            baseline,
            values,
            higher_is_better=higher_is_better,
            alpha=alpha,
            min_effect=min_effect,
            n_resamples=n_resamples,
            seed=seed,
        )
        for name, values in candidates.items()
    }
    names = list(raw)
    adjusted = holm([raw[name].p_value for name in names])
    result: dict[str, Comparison] = {}
    for name, p_adj in zip(names, adjusted, strict=True):
        c = raw[name]
        significant, reason = _decide(
            p=p_adj,
            ci_low=c.ci_low,
            ci_high=c.ci_high,
            alpha=alpha,
            min_effect=min_effect,
            degenerate=c.t_statistic is None,  # only both-arms-constant leaves t undefined
            correction="holm",
        )
        result[name] = dataclasses.replace(
            c, p_adjusted=p_adj, correction="holm", significant=significant, reason=reason
        )
    return result


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test of two models on one test set.

    `b`: examples model A got right and model B got wrong; `c`: the reverse. `statistic`
    is min(b, c) for the exact binomial test, the continuity-corrected chi-square for
    the "chi2" method.
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    b: int
    c: int
    statistic: float
    p_value: float
    method: str  # "exact" | "chi2"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def mcnemar(y_true: Sequence[Any], pred_a: Sequence[Any], pred_b: Sequence[Any]) -> McNemarResult:
    """Two-sided McNemar test; exact binomial when b + c < 25, else chi-square (df=1)."""
    truth, a, b_pred = (np.asarray(x) for x in (y_true, pred_a, pred_b))
    if not truth.ndim == a.ndim == b_pred.ndim == 1:
        raise ValueError("y_true, pred_a and pred_b must be flat sequences of labels.")
    if not truth.size == a.size == b_pred.size:
        raise ValueError(
            f"y_true, pred_a and pred_b must have the same length, but got "
            f"{truth.size}, {a.size} and {b_pred.size}."
        )
    if truth.size == 0:
        raise ValueError("mcnemar needs at least one example.")
    right_a = a == truth
    right_b = b_pred == truth
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    n_discordant = b + c

    from scipy.stats import binomtest, chi2

    if n_discordant == 0:
        # the models agree on every example: no evidence of any difference
        statistic, p_value, method = 0.0, 1.0, "exact"
    elif n_discordant < MCNEMAR_EXACT_BELOW:
        statistic = float(min(b, c))
        p_value = float(binomtest(min(b, c), n_discordant, 0.5).pvalue)
        method = "exact"
    else:
        statistic = (abs(b - c) - 1.0) ** 2 / n_discordant
        p_value = float(chi2.sf(statistic, df=1))
        method = "chi2"
    return McNemarResult(
        n=int(truth.size),
        accuracy_a=float(np.mean(right_a)),
        accuracy_b=float(np.mean(right_b)),
        b=b,
        c=c,
        statistic=statistic,
        p_value=min(1.0, p_value),
        method=method,
    )
