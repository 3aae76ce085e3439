"""Two models on one test set: McNemar's test, exact below 25 discordant pairs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# below this many discordant pairs the chi-square approximation is poor
MCNEMAR_EXACT_BELOW = 25

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
