"""phases.diagnostic.rules._optimizer, _capacity, _steps, _input_scale: the findings of issue 12
on crafted histories, each with the numbers that show it."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from phases.diagnostic.evidence import Evidence
from phases.diagnostic.rules import find_all, not_applicable
from tests.diagnostic.histories import by_id, clean_config, evidence, seeds
from workflow.metric import Metric

SLOW = {  # a straight, slow fall of the train loss: half the drop in the first half
    "train_loss": lambda e: 2.3 - 0.05 * e,
    "val_loss": lambda e: 2.3 - 0.05 * e,
    "train_accuracy": lambda e: 0.2 + 0.02 * e,
    "val_accuracy": lambda e: 0.2 + 0.02 * e,
    "val_balanced_accuracy": lambda e: 0.2 + 0.02 * e,
}
STUCK = {  # fits its training set to 50% at best, with a plateau
    "train_loss": lambda e: 1.5 + 0.8 * math.exp(-e),
    "train_accuracy": lambda e: 0.5 - 0.3 * math.exp(-e),
    "val_accuracy": lambda e: 0.52 - 0.3 * math.exp(-e),
    "val_balanced_accuracy": lambda e: 0.51 - 0.3 * math.exp(-e),
}
SGD = {"optimizer.name": "sgd", "optimizer.lr": 0.01, "optimizer.momentum": 0.0,
       "optimizer.weight_decay": 0.0}


def _found(runs: list, **config: object) -> dict:
    return by_id(find_all(evidence(runs, config=clean_config(**config))))


def test_sgd_without_momentum_is_the_root_cause_of_a_slow_fall() -> None:
    # plain SGD and a slow straight-line loss: sgd_no_momentum (high) explains lr_too_low
    found = _found(seeds(**SLOW), **SGD)
    plain = found["sgd_no_momentum"]
    assert plain.severity == "high" and plain.root_cause
    assert plain.evidence["momentum"] == 0.0
    assert plain.evidence["train_loss_reduction_pct"] == pytest.approx(42.2, abs=0.1)
    assert plain.evidence["first_half_share_pct"] == pytest.approx(47.4, abs=0.1)
    assert found["lr_too_low"].explained_by == "sgd_no_momentum"
    assert not found["lr_too_low"].root_cause


def test_sgd_without_momentum_on_a_run_that_learns_fast_is_medium() -> None:
    plain = _found(seeds(), **SGD)["sgd_no_momentum"]
    assert plain.severity == "medium" and plain.evidence["slow"] is False


def test_sgd_with_momentum_has_no_finding() -> None:
    assert "sgd_no_momentum" not in _found(seeds(**SLOW), **{**SGD, "optimizer.momentum": 0.9})


def test_adam_betas_far_from_the_usual() -> None:
    found = _found(seeds(), **{"optimizer.betas": [0.0, 0.5]})
    betas = found["adam_betas"]
    assert betas.evidence["beta1"] == 0.0 and betas.evidence["beta2"] == 0.5
    assert betas.severity == "medium"  # the run learns fast: worth a look, not the cause
    assert "beta1 0" in betas.text and "beta2 0.5" in betas.text
    assert "adam_betas" not in _found(seeds())


def test_weight_decay_with_adam_is_coupled_l2() -> None:
    found = _found(seeds(), **{"optimizer.name": "adam", "optimizer.weight_decay": 0.01})
    l2 = found["adam_l2_decay"]
    assert l2.severity == "low" and not l2.root_cause
    assert l2.evidence["weight_decay"] == 0.01
    assert "adam_l2_decay" not in _found(seeds())  # adamw decouples


def test_heavy_regularization_of_an_underfit_model() -> None:
    found = _found(seeds(**STUCK), **{"model.dropout": 0.8})
    heavy = found["heavy_regularization"]
    assert heavy.severity == "high" and heavy.root_cause
    assert heavy.evidence["dropout"] == 0.8 and heavy.evidence["underfit"] is True
    assert heavy.evidence["train_accuracy_best"] == pytest.approx(50.0, abs=0.1)
    assert found["underfitting"].explained_by == "heavy_regularization"
    # the same dropout on a model that fits its data: a low note, not a cause
    assert _found(seeds(), **{"model.dropout": 0.8})["heavy_regularization"].severity == "low"


def test_heavy_weight_decay_with_sgd() -> None:
    found = _found(seeds(**STUCK), **{**SGD, "optimizer.momentum": 0.9,
                                      "optimizer.weight_decay": 0.05})
    assert "weight_decay 0.05" in found["heavy_regularization"].text.lower()


def test_too_little_capacity() -> None:
    found = _found(seeds(**STUCK), **{"model.widths": [4]})
    small = found["too_little_capacity"]
    assert small.severity == "high" and small.evidence["narrowest_layer"] == 4
    assert found["underfitting"].explained_by == "too_little_capacity"
    assert "too_little_capacity" not in _found(seeds(**STUCK))  # 64 units: not narrow


def test_frozen_layers_of_a_model_without_pretrained_weights() -> None:
    found = _found(seeds(**STUCK), **{"model.freeze": ["body"]})
    frozen = found["frozen_layers"]
    assert frozen.severity == "high" and frozen.evidence["frozen"] == ["body"]
    assert found["underfitting"].explained_by == "frozen_layers"


def test_few_steps_when_the_batch_is_most_of_the_training_split() -> None:
    ev = evidence(seeds(**SLOW), config=clean_config(**{"data.batch_size": 1024}))
    ev = replace(ev, runs=[replace(run, train_size=1258) for run in ev.runs])
    found = by_id(find_all(ev))
    few = found["few_steps"]
    assert few.severity == "high"
    assert few.evidence["steps_per_epoch"] == 2 and few.evidence["steps_total"] == 40
    assert found["lr_too_low"].explained_by == "few_steps"


def test_input_scale_from_the_loss_at_initialization() -> None:
    probe = {"lr_range": {"initial_loss": 46.1, "chance_loss": 2.303, "input_std": 1.0}}
    found = by_id(find_all(evidence(seeds(), probes=probe)))
    scale = found["input_scale"]
    assert scale.severity == "high" and scale.evidence["ratio"] == pytest.approx(20.0, abs=0.1)
    fine = {"lr_range": {"initial_loss": 2.4, "chance_loss": 2.303}}
    assert "input_scale" not in by_id(find_all(evidence(seeds(), probes=fine)))


def test_findings_that_need_accuracy_are_not_applicable_to_a_regression() -> None:
    # a regression scored by val_mse: no accuracy columns. Findings from losses, curves and
    # config still run; those that need an accuracy say why they cannot
    runs = [[{"epoch": e, "train_loss": 2.0 - 0.05 * e, "val_loss": 2.0 - 0.05 * e,
              "val_mse": 2.0 - 0.05 * e} for e in range(1, 21)] for _ in range(3)]
    ev = Evidence(runs=evidence(runs).runs, config=clean_config(**SGD),
                  target=Metric.named("val_mse"))
    skipped = not_applicable(ev)
    assert {"underfitting", "too_little_capacity", "class_imbalance", "input_scale"} <= set(
        skipped)
    assert "val_mse" in skipped["underfitting"]
    found = by_id(find_all(ev))
    assert "sgd_no_momentum" in found and "not_converged" in found
    assert "underfitting" not in found


def _probe(suggested: float) -> dict:
    return {"lr_range": {"suggested_lr": suggested, "initial_loss": 2.3, "chance_loss": 2.3}}


def test_the_range_test_joins_the_lr_findings() -> None:
    # lr 1e-3 against a suggestion of 0.03 (30x above): too low, even on a 3-epoch run
    short = seeds(epochs=3)
    low = by_id(find_all(evidence(short, probes=_probe(0.03))))["lr_too_low"]
    assert low.severity == "high" and low.evidence["factor"] == 30.0
    # lr 1e-3 against a suggestion of 1e-5 (100x below): too high, though the loss is calm
    high = by_id(find_all(evidence(seeds(), probes=_probe(1e-5))))["lr_too_high"]
    assert high.severity == "high" and high.evidence["range_test_lr"] == 1e-5
    # 3x or more above the suggestion is never "too low", however slowly the loss fell
    assert "lr_too_low" not in by_id(find_all(evidence(seeds(**SLOW), probes=_probe(2e-4))))
