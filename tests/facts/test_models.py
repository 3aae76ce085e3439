"""workflow.facts models: closed, frozen sections; metric-keyed summaries; typed reads."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from workflow.errors import FactsError
from workflow.facts import (
    SECTIONS,
    BaselineFacts,
    Facts,
    MetricSummary,
    Phase3Facts,
    check_section,
    parse_facts,
)
from workflow.io import is_model, union_members


def _models(annotation: Any, seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """Every model class reachable from `annotation` through fields, containers and extras."""
    for member in union_members(annotation):
        if is_model(member) and member not in seen:
            seen.add(member)
            for info in member.model_fields.values():
                _models(info.annotation, seen)
            extra = typing.get_type_hints(member).get("__pydantic_extra__")
            if extra is not None:
                _models(extra, seen)
        for arg in typing.get_args(member):
            _models(arg, seen)
    return seen


MODELS = sorted(_models(Facts, set()), key=lambda m: f"{m.__module__}.{m.__name__}")


# rule: facts.json's sections are exactly the Facts model's fields
def test_sections() -> None:
    assert list(SECTIONS) == ["project", "baseline", "phase3", "phase4", "phase5", "moves",
                             "signoffs"]
    assert list(SECTIONS) == list(Facts.model_fields)


# rule: every facts model is closed (a key it does not declare is an error, or a typed metric
# key) so that a path check below it means something; and frozen, a record and not a live object
def test_every_model_is_closed_and_frozen() -> None:
    open_models = [
        m.__name__ for m in MODELS
        if m.model_config.get("extra") != "forbid"
        and typing.get_type_hints(m).get("__pydantic_extra__") is None
    ]
    assert open_models == []
    assert [m.__name__ for m in MODELS if not m.model_config.get("frozen")] == []


# rule: a metric-keyed section takes any metric name as a summary, and nothing else undeclared
def test_metric_keyed_summaries() -> None:
    baseline = BaselineFacts.model_validate({
        "completed": True, "seeds": 3,
        "val_accuracy": {"mean": 0.9, "std": 0.01, "n": 3, "values": [0.89, 0.9, 0.91]},
        "my_own_metric": {"mean": None, "std": None, "n": 0, "values": []},
    })
    assert baseline.summary("val_accuracy") == MetricSummary(
        mean=0.9, std=0.01, n=3, values=[0.89, 0.9, 0.91])
    assert baseline.summary("val_loss") is None
    assert list(baseline.metrics) == ["val_accuracy", "my_own_metric"]
    with pytest.raises(ValidationError, match="val_accuracy"):
        BaselineFacts.model_validate({"val_accuracy": 0.9})
    with pytest.raises(ValidationError, match="meen"):
        BaselineFacts.model_validate({"val_accuracy": {"meen": 0.9}})
    with pytest.raises(ValidationError, match="frozen"):
        baseline.seeds = 4  # type: ignore[misc]


# rule: a NaN recorded by a phase (a std of one seed) reads back as NaN, not as an error
def test_nan_is_a_number() -> None:
    summary = check_section("baseline", {"val_loss": {"mean": 0.3, "std": float("nan")}})
    assert isinstance(summary, BaselineFacts)
    std = summary.summary("val_loss").std  # type: ignore[union-attr]
    assert std is not None and std != std


# rule: a typed read of facts.json gives defaults for absent sections and names any misfit
def test_parse_facts() -> None:
    facts = parse_facts({"phase3": {"strategy": "skip", "potential": 1.5}})
    assert facts.phase3 == Phase3Facts(strategy="skip", potential=1.5)
    assert facts.baseline.completed is None and facts.phase5.mcnemar is None
    with pytest.raises(FactsError, match=r"^facts.json: unknown section 'phase9' \(sections: "):
        parse_facts({"phase9": {}})
    with pytest.raises(FactsError, match=r"^facts.json: phase3: recommendations.0.priority: "):
        parse_facts({"phase3": {"recommendations": [
            {"id": "R1", "name": "n", "priority": "URGENT", "changes": {},
             "expected_gain": [1, 2], "finding": "f"}]}})
