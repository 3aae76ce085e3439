"""workflow.stats._holm: Holm's step-down correction, alone and over several candidates."""

from __future__ import annotations

import pytest

from tests.stats.test_compare import BASELINE, PLANTED
from workflow.stats import compare, compare_many, holm


# rule: Holm multiplies the i-th smallest of m p-values by m - i + 1, keeps order, caps at 1
def test_holm_matches_a_hand_worked_example() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max so far 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # 0.5*2 = 1.0 caps; 0.6 is raised to it
    assert holm([0.02]) == [0.02]
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([float("nan")])

# rule: with several candidates each verdict uses its Holm-adjusted p; the raw p is kept
def test_compare_many_uses_holm_adjusted_p() -> None:
    modest = [0.917, 0.917, 0.911, 0.923, 0.913]  # raw p about 0.037
    weak = [0.905, 0.915, 0.895, 0.925, 0.905]
    alone = compare(BASELINE, modest)
    assert alone.significant  # on its own it passes
    many = compare_many(BASELINE, {"modest": modest, "weak": weak, "strong": PLANTED})
    raw = [many[k].p_value for k in ("modest", "weak", "strong")]
    assert raw[0] == pytest.approx(alone.p_value)
    adjusted = holm(raw)
    for key, p_adj in zip(("modest", "weak", "strong"), adjusted, strict=True):
        c = many[key]
        assert c.correction == "holm"
        assert c.p_adjusted == pytest.approx(p_adj)
        assert c.significant == (p_adj < 0.05 and c.ci_low > 0.0)
    assert many["modest"].p_adjusted > 0.05 > many["modest"].p_value
    assert many["modest"].verdict == "not_significant"
    assert "Holm-adjusted Welch p" in many["modest"].reason
    assert many["strong"].verdict == "significant"
    assert compare_many(BASELINE, {}) == {}
