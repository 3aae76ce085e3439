"""Several candidates against one baseline: Holm's step-down correction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from workflow.stats._common import Values
from workflow.stats._compare import Comparison, _decide, compare


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


def _constant(values: Sequence[float]) -> bool:
    """No seed noise at all in an arm: compare() calls two such arms degenerate."""
    return all(v == values[0] for v in values)


def compare_many(
    baseline: Values,
    candidates: Mapping[str, Values],
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    family: int = 1,
) -> dict[str, Comparison]:
    """Compare several candidates with one baseline; each verdict uses its Holm-adjusted p
    (Holm within the candidates, at alpha / family as `compare` tests)."""
    raw = {
        name: compare(
            baseline,
            values,
            higher_is_better=higher_is_better,
            alpha=alpha,
            min_effect=min_effect,
            family=family,
        )
        for name, values in candidates.items()
    }
    names = list(raw)
    adjusted = holm([raw[name].p_value for name in names])
    result: dict[str, Comparison] = {}
    for name, p_adj in zip(names, adjusted, strict=True):
        c = raw[name]
        significant, below, reason = _decide(
            test=c.test,
            p=p_adj,
            p_below=c.p_below,
            test_alpha=c.test_alpha,
            alpha=alpha,
            family=family,
            degenerate=_constant(c.baseline.values) and _constant(c.candidate.values),
            correction="holm",
        )
        result[name] = dataclasses.replace(
            c, p_adjusted=p_adj, correction="holm", significant=significant,
            below_min_effect=below, reason=reason,
        )
    return result
