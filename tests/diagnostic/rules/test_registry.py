"""phases.diagnostic.rules._registry: find_all over every rule, and the registry's cross-check."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.answers import ANSWERS, Context, Priority, Recommendation
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.recommend import MASKING_CAUSES
from phases.diagnostic.rules import (
    RULES,
    SEVERITY_RANK,
    Finding,
    Overfitting,
    Rule,
    check_rules,
    find_all,
)
from tests.diagnostic.histories import clean_config, evidence, seeds
from workflow.errors import ExtensionError


def test_clean_history_has_no_finding() -> None:
    # a healthy run on a config without gaps: no check fires
    assert find_all(evidence(seeds())) == []


def test_findings_sort_by_severity() -> None:
    # high before medium before low, whatever order the checks ran in
    runs = seeds(data_wait_fraction=lambda e: 0.45,
                 val_balanced_accuracy=lambda e: 0.955 - 0.4 * math.exp(-e / 2.5) - 0.12,
                 val_accuracy=lambda e: 0.95 if e == 4 else 0.94)
    severities = [f.severity for f in find_all(evidence(runs))]
    assert severities == sorted(severities, key=SEVERITY_RANK.__getitem__)


# ---- the registry's cross-check ----------------------------------------------------------


def test_the_registry_holds_every_finding_once_in_report_order() -> None:
    # the whole list: a rule dropped or renamed shows here
    assert [rule.id for rule in RULES] == [
        "lr_too_high", "input_scale", "sgd_no_momentum", "adam_betas", "frozen_layers",
        "heavy_regularization", "few_steps", "too_little_capacity", "overfitting",
        "underfitting", "lr_too_low", "not_converged", "saturated_early",
        "early_stopping_eager", "early_stopping_never_fires", "class_imbalance", "seed_noise",
        "resource_waste", "adam_l2_decay", "config_gaps",
    ]
    assert check_rules(RULES) == RULES
    assert MASKING_CAUSES == ("lr_too_high", "input_scale", "sgd_no_momentum", "few_steps",
                              "lr_too_low", "early_stopping_eager")


def test_every_rule_names_only_known_answers_and_causes() -> None:
    # what check_rules enforces, read off the registry itself
    ids = {rule.id for rule in RULES}
    for rule in RULES:
        assert set(rule.answers) <= set(ANSWERS), rule.id
        assert set(rule.explained_by) <= ids - {rule.id}, rule.id


class _Shadow(Overfitting):
    """A second rule with overfitting's id, an unknown answer and an unknown cause."""

    answers = ("add_dropout", "sacrifice_a_goat")
    explained_by = ("no_such_rule",)


class _Silent(Rule):
    """A rule that offers answers without naming them."""

    id = "silent"
    title = "Silent"

    def check(self, ev: Evidence) -> Finding | None:
        return None

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        return []


class _ChickenA(Rule):
    id = "chicken"
    title = "Chicken"
    explained_by = ("egg",)

    def check(self, ev: Evidence) -> Finding | None:
        return None


class _EggB(_ChickenA):
    id = "egg"
    title = "Egg"
    explained_by = ("chicken",)


def test_a_broken_rule_is_refused_and_named() -> None:
    # one ExtensionError naming every problem: the duplicate id, the unknown answer, the
    # unknown cause, the unnamed answers, and a circle of "explained by"
    with pytest.raises(ExtensionError) as caught:
        check_rules([*RULES, _Shadow(), _Silent(), _ChickenA(), _EggB()])
    message = str(caught.value)
    assert "_Shadow: id 'overfitting' is already Overfitting's" in message
    assert "'sacrifice_a_goat'" in message
    assert "explained_by names 'no_such_rule', which no rule has" in message
    assert "silent: answer() offers recommendations but `answers` names none" in message
    assert "chicken -> egg -> chicken" in message
    for rule in (_Shadow(), _ChickenA()):  # each alone is refused too
        with pytest.raises(ExtensionError):
            check_rules([*RULES, rule])


def test_a_rule_offering_an_answer_it_does_not_name_is_refused() -> None:
    # offer() holds answer() to the names the rule declares
    class Terse(Overfitting):
        answers = ("add_dropout",)

    ev = evidence(seeds())
    ctx = Context(clean_config(**{"model.dropout": 0.0, "data.augment": []}), ev, 20.0,
                  frozenset())
    finding = Finding("overfitting", "Overfitting", "high", {"gap_points": 20.0}, "t")
    assert {r.name for r in Overfitting().offer(finding, ctx, "HIGH")} >= {"add_augmentation"}
    with pytest.raises(ExtensionError, match="add_augmentation"):
        Terse().offer(finding, ctx, "HIGH")
