"""One verdict per setting: the config table agrees with the findings, and the plan fits the
diagnosis (no restraint for an underfit model, no setting the model never receives)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from phases.diagnostic.answers import RESTRAINING
from phases.diagnostic.diagnosis import diagnose
from phases.diagnostic.rules import rule_for
from tests.diagnostic.histories import clean_config, evidence, seeds
from tests.diagnostic.rules.test_optimizer import SGD, SLOW, STUCK

BARE = {"schedule.name": "none", "schedule.warmup_epochs": 0, "model.dropout": 0.0,
        "optimizer.weight_decay": 0.0, "data.augment": [], "training.grad_clip": None}
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (curves, config changes, evidence fields)
    "issue 12's beginner (sgd lr 0.001, no momentum)": (
        SLOW, {**BARE, **SGD, "optimizer.lr": 0.001}, {}),
    "heavy dropout": (STUCK, {"model.dropout": 0.8}, {}),
    "narrow model": (STUCK, {"model.widths": [4]}, {}),
    "frozen body": (STUCK, {"model.freeze": ["body"]}, {}),
    "adam betas": ({}, {"optimizer.betas": [0.0, 0.5]}, {}),
    "adam l2": ({}, {"optimizer.name": "adam", "optimizer.weight_decay": 0.01}, {}),
    "inputs": ({}, {}, {"probes": {"lr_range": {"initial_loss": 40.0, "chance_loss": 2.3}}}),
    "overfit": ({"train_accuracy": lambda e: min(1.0, 0.5 + 0.05 * e),
                 "val_accuracy": lambda e: min(0.72, 0.4 + 0.05 * e)}, BARE, {}),
    "lr too high": ({"train_loss": lambda e: 1.0 + (2.0 if e % 2 else 0.0)}, {}, {}),
}


def _diagnosis(case: str) -> Any:
    curves, config, fields = CASES[case]
    return diagnose(evidence(seeds(**curves), config=clean_config(**config), **fields))


@pytest.mark.parametrize("case", list(CASES))
def test_every_setting_a_finding_judges_shows_its_verdict_in_the_table(case: str) -> None:
    # the rule: a finding that judges a setting makes that row a warning naming it, so the
    # table never calls "good" what a finding calls a cause
    d = _diagnosis(case)
    rows = {row.setting: row for row in d.config_rows}
    assert len(rows) == len(d.config_rows)  # one row, one verdict, per setting
    judged = 0
    for finding in d.findings:
        for setting in rule_for(finding.id).settings:
            judged += 1
            assert rows[setting].status == "warning", (case, setting, rows[setting])
            assert finding.id in rows[setting].note, (case, setting)
    assert judged, case  # every case plants a finding that judges a setting


def test_the_beginners_lr_row_is_not_good_when_the_lr_is_a_finding() -> None:
    d = _diagnosis("issue 12's beginner (sgd lr 0.001, no momentum)")
    rows = {row.setting: row for row in d.config_rows}
    assert rows["optimizer.momentum"].status == "warning"
    assert "sgd_no_momentum" in rows["optimizer.momentum"].note
    assert d.plan.root_causes[0] == "sgd_no_momentum"
    assert d.plan.recommendations[0].name == "add_momentum"


@pytest.mark.parametrize("case", ["issue 12's beginner (sgd lr 0.001, no momentum)",
                                  "heavy dropout", "narrow model", "frozen body"])
def test_no_restraint_is_recommended_to_an_underfit_model(case: str) -> None:
    d = _diagnosis(case)
    names = {r.name for r in d.plan.recommendations}
    assert not names & set(RESTRAINING), (case, names)
    rows = {row.setting: row for row in d.config_rows}
    for setting in ("regularization", "data.augment", "training.grad_clip"):
        assert rows[setting].status != "missing", (case, setting)
    gaps = next((f for f in d.findings if f.id == "config_gaps"), None)
    if gaps is not None:  # config_gaps is read off the reconciled table
        assert not {"regularization", "data.augment", "training.grad_clip"} & set(
            gaps.evidence["settings"])


def test_an_overfit_model_still_gets_its_regularizers() -> None:
    names = [r.name for r in _diagnosis("overfit").plan.recommendations]
    assert "add_augmentation" in names and "add_dropout" in names


def test_a_plugin_model_is_recommended_only_the_knobs_it_declares(tmp_path: Any,
                                                                   monkeypatch: Any) -> None:
    # a plug-in that declares no knob never receives model.dropout: dropout is not
    # recommended, and the plan says why; one that declares dropout gets it
    (tmp_path / "mymodels.py").write_text(
        "def plain(num_classes, input_shape, **kw):\n    raise RuntimeError\n"
        "def knobbed(num_classes, input_shape, dropout=0.0, **kw):\n    raise RuntimeError\n"
        "knobbed.phasegate_knobs = ('dropout',)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    overfit, config, _ = CASES["overfit"]
    for model, offered in (("mymodels:plain", False), ("mymodels:knobbed", True)):
        ev = evidence(seeds(**overfit), config=clean_config(**{**config, "model.name": model}))
        d = diagnose(ev)
        names = {r.name for r in d.plan.recommendations}
        assert ("add_dropout" in names) is offered, model
        if not offered:
            assert any("model.dropout never reaches the model" in w for w in d.plan.withheld)


def test_findings_that_need_accuracy_are_listed_as_not_applicable() -> None:
    from workflow.metric import Metric

    runs = [[{"epoch": e, "train_loss": 2.0 * math.exp(-e / 5), "val_loss": 1.0,
              "val_mse": 2.0 * math.exp(-e / 5)} for e in range(1, 21)] for _ in range(3)]
    ev = replace(evidence(runs), target=Metric.named("val_mse"))
    d = diagnose(ev)
    assert "underfitting" in d.not_applicable and "class_imbalance" in d.not_applicable
