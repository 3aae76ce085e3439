"""workflow.stats._mcnemar: McNemar's test against hand computations."""

from __future__ import annotations

import json
import math

import pytest

from workflow.stats import mcnemar


def _mcnemar_data(
    both_right: int, b: int, c: int, both_wrong: int
) -> tuple[list[int], list[int], list[int]]:
    """Labels and two models' predictions with the given agreement counts."""
    n = both_right + b + c + both_wrong
    truth = [1] * n
    a_right = [1] * both_right + [1] * b + [0] * c + [0] * both_wrong
    b_right = [1] * both_right + [0] * b + [1] * c + [0] * both_wrong
    return truth, a_right, b_right

# rule: b + c < 25 uses the exact two-sided binomial test on min(b, c) of b + c
def test_mcnemar_exact_matches_a_hand_binomial_sum() -> None:
    r = mcnemar(*_mcnemar_data(80, 9, 3, 8))
    n, k = 12, 3
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert (r.b, r.c, r.method) == (9, 3, "exact")
    assert r.p_value == pytest.approx(p, rel=1e-12)
    assert r.accuracy_a == pytest.approx(89 / 100) and r.accuracy_b == pytest.approx(83 / 100)
    # b + c = 24 is still exact
    assert mcnemar(*_mcnemar_data(10, 14, 10, 0)).method == "exact"

# rule: b + c >= 25 uses chi-square with continuity correction, (|b - c| - 1)^2 / (b + c)
def test_mcnemar_chi2_matches_the_hand_formula() -> None:
    r = mcnemar(*_mcnemar_data(500, 30, 12, 40))
    stat = (abs(30 - 12) - 1) ** 2 / 42
    assert (r.method, r.statistic) == ("chi2", pytest.approx(stat))
    # chi-square with 1 df: P(X > x) = erfc(sqrt(x / 2))
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(stat / 2)), rel=1e-12)
    assert mcnemar(*_mcnemar_data(10, 15, 10, 0)).method == "chi2"  # b + c = 25

# rule: no discordant pairs means no evidence: p = 1; mismatched lengths are refused
def test_mcnemar_edge_cases() -> None:
    r = mcnemar([0, 1, 2, 1], [0, 1, 2, 0], [0, 1, 2, 0])
    assert (r.b, r.c, r.p_value) == (0, 0, 1.0)
    assert json.loads(json.dumps(r.to_dict()))["method"] == "exact"
    with pytest.raises(ValueError, match="same length"):
        mcnemar([0, 1], [0, 1, 1], [0, 1])
