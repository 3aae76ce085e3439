"""workflow.conditions: structured comparisons on facts, their logic and their reasons."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from workflow.conditions import Condition, evaluate_condition


# rule: the reason names the value, the comparison and the threshold (never evaluated as code)
def test_reason_with_another_fact_and_offset() -> None:
    cond = Condition(fact="phase4.best.val_accuracy.mean", op=">=",
                     other="baseline.val_accuracy.mean", offset=0.03)
    facts = {"phase4": {"best": {"val_accuracy": {"mean": 0.912}}},
             "baseline": {"val_accuracy": {"mean": 0.921}}}
    verdict = evaluate_condition(cond, facts)
    assert verdict.holds is False
    assert verdict.text == (
        "phase4.best.val_accuracy.mean = 0.912 >= baseline.val_accuracy.mean + 0.03 = 0.951"
    )
    assert str(cond) == "phase4.best.val_accuracy.mean >= baseline.val_accuracy.mean + 0.03"


# rule: a missing fact leaves a condition undecided (pending), never false
def test_missing_fact_is_undecided() -> None:
    verdict = evaluate_condition(Condition(fact="phase4.seeds", op=">=", value=3), {})
    assert verdict.holds is None and verdict.text == "phase4.seeds is not recorded"


# rule: comparisons are typed: true is not 1, ordering needs numbers, floats meet their sums
@pytest.mark.parametrize(
    ("cond", "facts", "holds"),
    [
        (dict(fact="x", value=True), {"x": 1}, False),
        (dict(fact="x", value=1), {"x": 1.0}, True),
        (dict(fact="x", op="!=", value="skip"), {"x": "sweep"}, True),
        (dict(fact="x", op="in", value=["A", "B"]), {"x": "B"}, True),
        (dict(fact="x", op="not in", value=["A", "B"]), {"x": "B"}, False),
        (dict(fact="x", op=">=", value=3), {"x": "many"}, False),
        (dict(fact="x", op=">=", other="y", offset=0.03), {"x": 0.95, "y": 0.92}, True),
        (dict(fact="x", op=">", other="y", offset=0.03), {"x": 0.95, "y": 0.92}, False),
        (dict(fact="x", op="exists"), {"x": None}, True),
        (dict(fact="baseline.{metric}.mean", op="<", value=0.5),
         {"project": {"metric": "val_loss"}, "baseline": {"val_loss": {"mean": 0.3}}}, True),
    ],
)
def test_comparisons(cond: dict[str, Any], facts: dict[str, Any], holds: bool) -> None:
    assert evaluate_condition(Condition.model_validate(cond), facts).holds is holds


# rule: any_of holds on one true part, all_of fails on one false part; unknowns stay undecided
def test_any_of_all_of_three_valued() -> None:
    any_of = Condition(any_of=[Condition(fact="a", value=True), Condition(fact="b", value=True)])
    all_of = Condition(all_of=[Condition(fact="a", value=True), Condition(fact="b", value=True)])
    assert evaluate_condition(any_of, {"b": True}).holds is True
    assert evaluate_condition(any_of, {"b": False}).holds is None
    assert evaluate_condition(any_of, {"a": False, "b": False}).holds is False
    assert evaluate_condition(all_of, {"a": False}).holds is False
    assert evaluate_condition(all_of, {"a": True}).holds is None
    assert evaluate_condition(all_of, {"a": True, "b": True}).holds is True


# rule: a condition's shape is checked when it is loaded
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"op": "==", "value": 1}, "exactly one of fact, any_of, all_of"),
        ({"fact": "x", "any_of": [{"fact": "y", "op": "exists"}]}, "exactly one of"),
        ({"fact": "x", "op": ">="}, "exactly one of value or other"),
        ({"fact": "x", "value": 1, "other": "y"}, "exactly one of value or other"),
        ({"fact": "x", "op": "in", "value": "A"}, "needs a list value"),
        ({"fact": "x", "op": ">", "value": "big"}, "needs a number"),
        ({"fact": "x", "value": 1, "offset": 2}, "offset goes with other"),
        ({"fact": "x", "op": "~=", "value": 1}, "Input should be '>='"),
        ({"fact": "x", "op": "exists", "value": 1}, "takes no value"),
    ],
)
def test_condition_shape(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Condition.model_validate(fields)


# rule: a threshold or offset that is infinite or NaN decides nothing: refused when loaded
@pytest.mark.parametrize(
    "data",
    [
        {"fact": "phase4.seeds", "op": ">=", "value": float("inf")},
        {"fact": "phase4.seeds", "op": ">=", "value": float("nan")},
        {"fact": "phase4.seeds", "op": "in", "value": [1, float("nan")]},
        {"fact": "phase4.seeds", "op": ">=", "other": "baseline.seeds", "offset": float("-inf")},
    ],
)
def test_non_finite_thresholds_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="finite number"):
        Condition.model_validate(data)
