"""Conditions on recorded facts: structured comparisons, never evaluated as code.

A condition is one of

- `fact` + `op` + `value`: `{fact: phase4.seeds, op: ">=", value: 3}`
- `fact` + `op` + `other` (another fact) + `offset`:
  `{fact: phase4.best.val_accuracy.mean, op: ">=", other: baseline.val_accuracy.mean,
  offset: 0.03}`
- `fact` + `op: exists`
- `any_of` / `all_of`: a list of conditions

with `op` one of >=, >, <=, <, ==, !=, in, not in, exists. Fact paths are dotted
and may say `{metric}`, which stands for the project's target metric (the fact
`project.metric`); workflow.facts checks every path against the facts models.
A condition evaluates to a `Verdict`: it holds, it does not, or it cannot tell
yet because a fact is not recorded; and the text names the value, the
comparison and the threshold. Gate items and the phase graph's
branches are both written as conditions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from workflow.facts import METRIC
from workflow.store import MISSING, lookup

__all__ = ["Condition", "Op", "Verdict", "evaluate_condition", "format_value"]

Op = Literal[">=", ">", "<=", "<", "==", "!=", "in", "not in", "exists"]
Scalar = bool | int | float | str | None
_ORDERING = {">=", ">", "<=", "<"}


class Condition(BaseModel):
    """A structured comparison on facts: exactly one of `fact`, `any_of`, `all_of`."""

    # a threshold or offset of infinity or NaN decides nothing (NaN compares false with all)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    fact: str | None = None
    op: Op = "=="
    value: Scalar | list[Scalar] = None
    other: str | None = None
    offset: float = 0.0
    any_of: list[Condition] | None = None
    all_of: list[Condition] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        given = self.model_fields_set
        forms = [name for name in ("fact", "any_of", "all_of") if getattr(self, name) is not None]
        if len(forms) != 1:
            raise ValueError(f"give exactly one of fact, any_of, all_of, but got {forms or 'none'}")
        if self.fact is None:
            stray = sorted(given & {"op", "value", "other", "offset"})
            if stray:
                raise ValueError(f"{', '.join(stray)} go with fact, not with any_of/all_of")
            if not (self.any_of or self.all_of):
                raise ValueError("any_of/all_of needs at least one condition")
            return self
        has_value, has_other = "value" in given, self.other is not None
        if self.op == "exists":
            if has_value or has_other:
                raise ValueError("op 'exists' takes no value or other")
        elif has_value == has_other:
            raise ValueError(f"compare {self.fact} with exactly one of value or other")
        if "offset" in given and not has_other:
            raise ValueError("offset goes with other (a fact), not with value")
        if self.op in ("in", "not in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in _ORDERING and has_value and not _is_number(self.value):
            raise ValueError(f"op {self.op!r} needs a number, but got {self.value!r}")
        return self

    def __str__(self) -> str:
        """The condition as a person writes it: "phase4.decision in ['A', 'B']"."""
        if self.fact is None:
            joiner = " or " if self.any_of is not None else " and "
            return "(" + joiner.join(str(c) for c in (self.any_of or self.all_of or [])) + ")"
        if self.op == "exists":
            return f"{self.fact} is recorded"
        if self.other is None:
            return f"{self.fact} {self.op} {format_value(self.value)}"
        if not self.offset:
            return f"{self.fact} {self.op} {self.other}"
        sign = "+" if self.offset > 0 else "-"
        return f"{self.fact} {self.op} {self.other} {sign} {format_value(abs(self.offset))}"



@dataclass(frozen=True)
class Verdict:
    """Whether a condition holds (None: a fact it needs is not recorded) and why, in words."""

    holds: bool | None
    text: str


def evaluate_condition(condition: Condition, facts: dict[str, Any]) -> Verdict:
    metric = lookup(facts, "project.metric")
    return _evaluate(condition, facts, metric if isinstance(metric, str) else "val_accuracy")


def _evaluate(cond: Condition, facts: dict[str, Any], metric: str) -> Verdict:
    if cond.any_of is not None or cond.all_of is not None:
        parts = [_evaluate(c, facts, metric) for c in (cond.any_of or cond.all_of or [])]
        wanted = cond.any_of is not None  # any_of settles on the first True, all_of on a False
        deciding = [p for p in parts if p.holds is wanted]
        if deciding:
            text = deciding[0].text if wanted else "; ".join(d.text for d in deciding)
            return Verdict(wanted, text)
        unknown = [p.text for p in parts if p.holds is None]
        joiner = " or " if wanted else " and "
        if unknown:
            return Verdict(None, joiner.join(dict.fromkeys(unknown)))
        return Verdict(not wanted, joiner.join(p.text for p in parts))
    assert cond.fact is not None
    name = cond.fact.replace(METRIC, metric)
    value = lookup(facts, name)
    if value is MISSING:
        return Verdict(None, f"{name} is not recorded")
    shown = f"{name} = {format_value(value)}"
    if cond.op == "exists":
        return Verdict(True, f"{shown} is recorded")
    if cond.other is not None:
        other = cond.other.replace(METRIC, metric)
        base = lookup(facts, other)
        if base is MISSING:
            return Verdict(None, f"{other} is not recorded")
        if not _is_number(base):
            return Verdict(False, f"{other} = {format_value(base)} is not a number")
        threshold = base + cond.offset
        if cond.offset:
            sign = "+" if cond.offset > 0 else "-"
            rhs = f"{other} {sign} {format_value(abs(cond.offset))} = {format_value(threshold)}"
        else:
            rhs = f"{other} = {format_value(threshold)}"
    else:
        threshold, rhs = cond.value, format_value(cond.value)
    text = f"{shown} {cond.op} {rhs}"
    if cond.op in _ORDERING and not _is_number(value):
        return Verdict(False, f"{shown} is not a number (needs {cond.op} {rhs})")
    return Verdict(_compare(value, cond.op, threshold), text)


def _compare(value: Any, op: str, threshold: Any) -> bool:
    if op in _ORDERING:
        # 0.92 + 0.03 is 0.9500000000000001 in floats: a recorded 0.95 still meets it
        close = math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
        if op == ">=":
            return bool(value >= threshold or close)
        if op == ">":
            return bool(value > threshold and not close)
        if op == "<=":
            return bool(value <= threshold or close)
        return bool(value < threshold and not close)
    if op == "==":
        return _equal(value, threshold)
    if op == "!=":
        return not _equal(value, threshold)
    inside = any(_equal(value, t) for t in threshold)
    return inside if op == "in" else not inside


def _equal(a: Any, b: Any) -> bool:
    # true is not 1 here: a flag recorded as 1 did not say "true"
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_value(value: Any) -> str:
    """A value as a reason shows it: 0.912, 'A', true, ['A', 'B']."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(sorted(value)) + "}"
    return str(value)
