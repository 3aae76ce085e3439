"""The Phase 4 decision rules, branch by branch, on crafted comparisons (no training)."""

from __future__ import annotations

import pytest

from phases.optimization import decision
from phases.optimization.decision import (
    AttemptBudget,
    AttemptEvidence,
    Decision,
    DecisionCode,
    gain_points,
    target_check,
)
from workflow.machine import MACHINE
from workflow.metric import Metric
from workflow.stats import Comparison, compare

ACCURACY = Metric.named("val_accuracy")
LOSS = Metric.named("val_loss")
BASE = [0.80, 0.81, 0.79, 0.80, 0.80]


def evidence(attempt: int, comparison: Comparison) -> AttemptEvidence:
    return AttemptEvidence(
        attempt,
        comparison.significant,
        gain_points(comparison.mean_diff, comparison.baseline.mean, metric=ACCURACY),
        comparison.reason,
        comparison.below_min_effect,
    )


CEILING = 1.0  # min_effect 0.01 of accuracy, in points


def decide(current: AttemptEvidence, **kwargs: object) -> Decision:
    """decision.decide with the ceiling of min_effect 0.01 unless a test gives another."""
    return decision.decide(current, **{"ceiling": CEILING, **kwargs})  # type: ignore[arg-type]


SPREAD = (0.0, 0.01, -0.01, 0.005, -0.005)


def crafted(shift: float, spread: tuple[float, ...] = SPREAD) -> Comparison:
    """The baseline against a candidate `shift` above it (same spread shape)."""
    return compare(BASE, [b + shift + s for b, s in zip(BASE, spread, strict=True)],
                   min_effect=0.01)


def budget(used: int = 1, limit: int = 3, minutes: float = 0.0,
           time_budget: float | None = None) -> AttemptBudget:
    return AttemptBudget(used, limit, minutes, time_budget)


GAIN = crafted(0.06)  # +6 points, significant
NOTHING = crafted(0.0)  # the same arm: not significant
SMALL = crafted(0.005, (0.03, -0.03, 0.02, -0.02, 0.0))  # +0.5 point, noisy: not significant


def test_crafted_comparisons_say_what_the_tests_assume() -> None:
    # the three comparisons the branches below use: a real gain, none, a small noisy one
    assert GAIN.significant and GAIN.mean_diff == pytest.approx(0.06)
    assert not NOTHING.significant
    assert not SMALL.significant and gain_points(SMALL.mean_diff, 0.8, metric=ACCURACY) < CEILING


def test_a_significant_and_target_met() -> None:
    # A: a significant improvement that meets the target is accepted
    d = decide(evidence(1, GAIN), earlier=[], target_met=True, target_text="0.86 >= 0.85",
               budget=budget())
    assert d.code is DecisionCode.A and d.transition == "accept"
    assert "+6.00 points" in d.reason and "0.86 >= 0.85" in d.reason


def test_a_wins_even_when_the_budget_is_spent() -> None:
    # A before budget: meeting the target with the last attempt is still an acceptance
    d = decide(evidence(3, GAIN), earlier=[], target_met=True, target_text="met",
               budget=budget(3, 3, minutes=99, time_budget=1))
    assert d.code is DecisionCode.A and not d.flagged


def test_b_significant_target_not_met_attempts_left() -> None:
    # B: significant but short of the target, with attempts left: iterate
    d = decide(evidence(1, GAIN), earlier=[], target_met=False, target_text="0.86 < 0.9",
               budget=budget(1, 3))
    assert d.code is DecisionCode.B and d.transition == "iterate"
    assert "2 attempt(s) left" in d.reason


def test_c_not_significant_first_attempt() -> None:
    # C: no significant improvement (one attempt is not a ceiling): back to Phase 3
    d = decide(evidence(1, NOTHING), earlier=[], target_met=False, target_text="-",
               budget=budget(1, 3))
    assert d.code is DecisionCode.C and d.transition == "revert"
    assert "which is not an improvement" in d.reason


def test_c_worse_with_a_big_drop_is_never_a_ceiling_alone() -> None:
    # C: a clearly worse attempt, the first one, returns to Phase 3 (not D, not A)
    d = decide(evidence(1, crafted(-0.05)), earlier=[], target_met=True, target_text="met",
               budget=budget(1, 3))
    assert d.code is DecisionCode.C


def test_c_after_an_improvement_when_the_miss_is_large_but_noisy() -> None:
    # C: after an improvement, a non-significant attempt that moved min_effect or more is not
    # a ceiling (it might be real but underpowered): back to Phase 3 with the best so far
    noisy_big = AttemptEvidence(2, False, 3.5, "p = 0.08 is not below 0.05")
    d = decide(noisy_big, earlier=[evidence(1, GAIN)], target_met=False, target_text="-",
               budget=budget(2, 3))
    assert d.code is DecisionCode.C


def test_d_two_small_attempts_in_a_row() -> None:
    # D: without any improvement, two attempts in a row each under min_effect: ceiling
    d = decide(evidence(2, SMALL), earlier=[evidence(1, NOTHING)], target_met=False,
               target_text="-", budget=budget(2, 3))
    assert d.code is DecisionCode.D and d.transition == "ceiling"
    assert "attempt 1 gained +0.00 points, attempt 2 gained +0.50 points" in d.reason


def test_d_one_small_attempt_after_an_improvement() -> None:
    # D: after a significant improvement, one attempt under min_effect is the ceiling
    d = decide(evidence(2, SMALL), earlier=[evidence(1, GAIN)], target_met=False,
               target_text="-", budget=budget(2, 3))
    assert d.code is DecisionCode.D
    assert "after the significant improvement of attempt 1" in d.reason


def test_d_counts_only_the_attempts_since_the_last_improvement() -> None:
    # D: the window starts after the last significant attempt; older stalls do not count
    history = [evidence(1, NOTHING), evidence(2, GAIN)]
    d = decide(evidence(3, SMALL), earlier=history, target_met=False, target_text="-",
               budget=budget(3, 5))
    assert d.code is DecisionCode.D and "attempt 3" in d.reason and "attempt 1 " not in d.reason


def test_d_an_unmeasurable_attempt_counts_as_no_gain() -> None:
    # D: an attempt whose arm failed (a diverged seed) gained nothing measurable
    failed = AttemptEvidence(2, False, None, "seed 1 diverged: not compared")
    d = decide(failed, earlier=[evidence(1, NOTHING)], target_met=False, target_text="-",
               budget=budget(2, 3))
    assert d.code is DecisionCode.D and "unmeasurable" in d.reason


def test_d_before_budget() -> None:
    # D before budget: a ceiling on the last allowed attempt is reported as the ceiling
    d = decide(evidence(2, SMALL), earlier=[evidence(1, GAIN)], target_met=False,
               target_text="-", budget=budget(2, 2))
    assert d.code is DecisionCode.D


def test_budget_attempts_spent_with_a_significant_gain() -> None:
    # budget: significant but short of the target on the last allowed attempt (not B)
    d = decide(evidence(3, GAIN), earlier=[evidence(1, GAIN), evidence(2, GAIN)],
               target_met=False, target_text="0.9 < 0.95", budget=budget(3, 3))
    assert d.code is DecisionCode.BUDGET and d.flagged and d.transition == "budget"
    assert "3 of 3 attempts are used" in d.reason


def test_budget_attempts_spent_without_a_gain() -> None:
    # budget, not C: with no attempt left, going back to Phase 3 would only exceed the limit
    d = decide(evidence(1, NOTHING), earlier=[], target_met=False, target_text="-",
               budget=budget(1, 1))
    assert d.code is DecisionCode.BUDGET


def test_budget_time_spent() -> None:
    # budget: the time budget is used up, even with attempts left
    d = decide(evidence(1, GAIN), earlier=[], target_met=False, target_text="-",
               budget=budget(1, 3, minutes=12.5, time_budget=10))
    assert d.code is DecisionCode.BUDGET and "12.5 of the 10 minutes" in d.reason


def test_every_code_selects_its_own_transition_in_the_phase_graph() -> None:
    # each decision's transition leaves `optimizing` and its `when` names that decision
    for code in DecisionCode:
        transition = MACHINE.transition(code.transition)
        assert transition.source == "optimizing"
        assert transition.when is not None and transition.when.value == code.value
        assert (transition.target == "optimized") == code.is_final()


def test_gain_points_of_a_rate_and_of_a_loss() -> None:
    # points: x100 of a rate's difference; a percentage of the reference for a loss
    assert gain_points(0.034, 0.8, metric=ACCURACY) == pytest.approx(3.4)
    assert gain_points(0.05, 0.5, metric=LOSS) == pytest.approx(10.0)


def test_target_check_with_a_goal_without_one_and_for_a_loss() -> None:
    # the target: the mean against the goal in the metric's direction; no goal: significance
    assert target_check(0.86, 0.85, metric=ACCURACY, significant=False)[0]
    assert target_check(0.85, 0.85, metric=ACCURACY, significant=False)[0]  # reached is met
    assert not target_check(0.84, 0.85, metric=ACCURACY, significant=True)[0]
    assert target_check(0.30, 0.35, metric=LOSS, significant=False)[0]
    assert target_check(0.35, 0.35, metric=LOSS, significant=False)[0]
    assert not target_check(0.40, 0.35, metric=LOSS, significant=True)[0]
    assert not target_check(float("nan"), 0.35, metric=LOSS, significant=True)[0]
    assert target_check(None, None, metric=Metric.named("m"), significant=True)[0]
    assert not target_check(0.9, None, metric=Metric.named("m"), significant=False)[0]


def test_budget_rejects_impossible_counts() -> None:
    # a decision is always about an attempt: zero attempts used is a caller's bug
    with pytest.raises(ValueError, match="attempts_used"):
        AttemptBudget(0, 3)


TIGHT = [0.800, 0.801, 0.799, 0.800, 0.800]
TINY = compare(TIGHT, [0.803, 0.804, 0.802, 0.803, 0.803], min_effect=0.01)  # +0.3, tight


def test_a_goal_meeting_gain_under_min_effect_is_kept() -> None:
    # A: significantly better and meets the goal, though significantly under min_effect
    assert TINY.significant and TINY.below_min_effect
    d = decide(evidence(2, TINY), earlier=[evidence(1, GAIN)], target_met=True,
               target_text="0.803 >= 0.803", budget=budget(2, 3))
    assert d.code is DecisionCode.A


def test_a_real_gain_too_small_to_claim_is_not_an_improvement() -> None:
    # short of the goal, a gain significantly under min_effect is not kept (D after a gain)
    d = decide(evidence(2, TINY), earlier=[evidence(1, GAIN)], target_met=False,
               target_text="-", budget=budget(2, 3))
    assert d.code is DecisionCode.D
    assert "+0.30 points" in d.reason and "minimum effect of 1.00 points" in d.reason


def test_the_ceiling_is_min_effect_in_the_metric_unit() -> None:
    # a loss: gains and the ceiling are percent of the reference; 3% under a 5% ceiling
    small = AttemptEvidence(2, False, 3.0, "not significant")
    d = decide(small, earlier=[evidence(1, GAIN)], target_met=False, target_text="-",
               budget=budget(2, 3), ceiling=5.0, unit="%")
    assert d.code is DecisionCode.D and "+3.00 %" in d.reason and "5.00 %" in d.reason
    # the same gain with a ceiling of 2% is not a ceiling: C with attempts left
    assert decide(small, earlier=[], target_met=False, target_text="-", budget=budget(1, 3),
                  ceiling=2.0, unit="%").code is DecisionCode.C
