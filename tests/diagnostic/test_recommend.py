"""phases.diagnostic.recommend: the rules' answers ranked into 3-5 valid patches, the strategy."""

from __future__ import annotations

import math
from typing import Any

import pytest

from phases.diagnostic.evidence import Evidence
from phases.diagnostic.recommend import (
    MAX_RECOMMENDATIONS,
    MIN_RECOMMENDATIONS,
    SKIP_BELOW_POINTS,
    Plan,
    combined_potential,
    headroom,
    plan,
)
from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import clean_config, evidence, seeds
from workflow.trainer.config import TrainConfig


def overfit_seeds(imbalance: float = 0.0) -> list[list[dict[str, float]]]:
    """Train accuracy 100% against val 72% at the end: a 28-point gap."""
    return seeds(
        train_accuracy=lambda e: min(1.0, 0.5 + 0.05 * e),
        val_accuracy=lambda e: min(0.72, 0.4 + 0.05 * e),
        val_balanced_accuracy=lambda e: min(0.715, 0.4 + 0.05 * e) - imbalance,
    )

BARE = {  # the trainer's defaults: no schedule, no regularization, no augmentation, no clip
    "schedule.name": "none", "schedule.warmup_epochs": 0, "optimizer.name": "adam",
    "optimizer.weight_decay": 0.0, "model.dropout": 0.0, "data.augment": [],
    "training.grad_clip": None, "training.early_stopping": None,
}


def _plan(
    runs: list[list[dict[str, float]]], config: TrainConfig | None = None, **fields: Any
) -> tuple[Plan, Evidence]:
    ev = evidence(runs, config=config, **fields)
    return plan(find_all(ev), ev), ev


def test_overfitting_gets_regularization_first_and_a_targeted_plan() -> None:
    # overfitting's answers lead (augmentation, dropout, weight decay), each patch validates,
    # and one root cause with a few changes is targeted
    p, ev = _plan(overfit_seeds(), config=clean_config(**BARE))
    names = [r.name for r in p.recommendations]
    assert names[:3] == ["add_augmentation", "add_dropout", "add_weight_decay"]
    assert [r.priority for r in p.recommendations[:2]] == ["HIGH", "HIGH"]
    assert all(r.finding == "overfitting" for r in p.recommendations[:3])
    assert MIN_RECOMMENDATIONS <= len(p.recommendations) <= MAX_RECOMMENDATIONS
    assert [r.id for r in p.recommendations] == [f"R{i + 1}" for i in range(len(names))]
    for rec in p.recommendations:
        ev.config.with_changes(rec.changes)  # raises if a patch is not a valid config
        low, high = rec.expected_gain
        assert 0 <= low <= high <= p.headroom
    assert p.changes["model.dropout"] == 0.3
    assert p.changes["optimizer.name"] == "adamw"
    assert p.strategy == "targeted"
    assert p.root_causes == ["overfitting"]
    assert p.search_space == {}  # only a sweep writes its space out
    # nothing measured: the prior is 0 up to a share of the 28-point gap (augmentation: 40%)
    assert p.recommendations[0].expected_gain == (0.0, 11.2)
    assert p.recommendations[0].basis == "prior"


def test_potential_is_the_compounded_upper_gains_within_the_headroom() -> None:
    # headroom x (1 - prod(1 - high/headroom)); never more than the headroom
    p, ev = _plan(overfit_seeds(), config=clean_config(**BARE))
    room, score = headroom(ev)
    assert score == pytest.approx(0.72)
    assert room == pytest.approx(28.0)
    left = math.prod(1 - r.expected_gain[1] / room for r in p.recommendations)
    assert p.potential == pytest.approx(room * (1 - left), abs=0.01)
    assert p.potential <= room
    assert combined_potential([], 10.0) == 0.0


def test_clean_baseline_near_the_ceiling_is_skipped() -> None:
    # 95.5% with nothing wrong: under 3 points of potential, Phase 4 is skipped (yet 3 generic
    # recommendations are still written for the record)
    p, _ = _plan(seeds())
    assert p.potential < SKIP_BELOW_POINTS
    assert p.strategy == "skip"
    assert "under the 3-point bar" in p.strategy_reason
    # the generic fillers, by expected gain
    assert [r.name for r in p.recommendations] == ["tune_lr", "label_smoothing", "train_longer"]
    assert all(r.finding == "none" for r in p.recommendations)


def test_diverged_baseline_lowers_the_lr_and_iterates() -> None:
    # every seed diverged at lr 5 (adam): lower it into adam's usual range, clip, warm up; with
    # nothing else measurable the plan is to fix it and diagnose again
    config = clean_config(**{**BARE, "optimizer.lr": 5.0})
    p, _ = _plan(seeds(train_loss=lambda e: math.nan), config=config)
    first = p.recommendations[0]
    assert (first.name, first.priority, first.finding) == ("lower_lr", "HIGH", "lr_too_high")
    assert first.changes == {"optimizer.lr": 0.01}
    assert first.uncertain  # no range test ran
    assert {"grad_clip", "lr_schedule"} <= {r.name for r in p.recommendations}
    assert p.baseline_score is None and p.headroom == 100.0
    assert p.strategy == "iterative"


def test_range_test_suggestion_sets_the_lr_and_removes_the_guess() -> None:
    # with the lr probe's suggestion the new lr is measured, not guessed
    config = clean_config(**{**BARE, "optimizer.lr": 5.0})
    probes = {"lr_range": {"suggested_lr": 0.00234}}
    p, _ = _plan(seeds(train_loss=lambda e: math.nan), config=config, probes=probes)
    first = p.recommendations[0]
    assert first.changes == {"optimizer.lr": 0.0023}
    assert not first.uncertain
    assert "range test" in first.title


def test_two_root_causes_call_for_a_sweep_with_its_space() -> None:
    # overfitting and class imbalance together: their fixes interact, so search the knobs
    p, _ = _plan(overfit_seeds(imbalance=0.12), config=clean_config(**BARE))
    assert set(p.root_causes) == {"overfitting", "class_imbalance"}
    assert p.strategy == "sweep"
    assert p.search_space["model.dropout"] == {"type": "float", "low": 0.0, "high": 0.5,
                                               "log": False}
    assert p.search_space["data.augment"]["type"] == "categorical"
    assert "monitor_balanced_accuracy" in {r.name for r in p.recommendations}


def test_an_unmeasured_lr_change_calls_for_a_sweep() -> None:
    # spikes (not divergence) at lr 0.3: lowering the lr is a guess, a sweep searches its range
    def loss(e: int) -> float:
        return 0.3 + 1.2 * math.exp(-e / 2) + (0.8 if e in (6, 12) else 0.0)

    config = clean_config(**{"optimizer.name": "sgd", "optimizer.lr": 0.3})
    runs = seeds(train_loss=loss, val_accuracy=lambda e: 0.85 - 0.4 * math.exp(-e / 2.5),
                 val_balanced_accuracy=lambda e: 0.845 - 0.4 * math.exp(-e / 2.5))
    p, _ = _plan(runs, config=config)
    assert p.recommendations[0].name == "lower_lr"
    assert p.recommendations[0].changes == {"optimizer.lr": 0.1}
    assert p.strategy == "sweep"
    assert p.search_space["optimizer.lr"] == {"type": "float", "low": 0.001, "high": 0.1,
                                              "log": True}


def test_project_preference_overrides_the_rule() -> None:
    # the project's strategy wins, and the reason still says what the rule would have chosen
    ev = evidence(overfit_seeds(), config=clean_config(**BARE))
    p = plan(find_all(ev), ev, preference="iterative")
    assert p.strategy == "iterative"
    assert p.auto_strategy == "targeted"
    assert "The project asks for iterative" in p.strategy_reason


def test_underfitting_gets_capacity_and_longer_training_ranked_by_gain_per_cost() -> None:
    # train accuracy stuck at 60% with a plateau: more capacity, less regularization, longer
    # training; within a priority the gain per unit of cost ranks them (capacity costs 2x,
    # 3x the epochs 3x), and no regularizer is offered to a model that underfits
    runs = seeds(train_loss=lambda e: 1.2 + 1.0 * math.exp(-e), train_accuracy=lambda e: 0.6,
                 val_accuracy=lambda e: 0.58, val_balanced_accuracy=lambda e: 0.575)
    p, _ = _plan(runs, goal=0.97)
    names = [r.name for r in p.recommendations]
    assert {"more_capacity", "less_regularization", "train_longer"} <= set(names)
    bigger = next(r for r in p.recommendations if r.name == "more_capacity")
    assert bigger.changes == {"model.widths": [128]} and bigger.cost == 2.0
    assert p.changes["training.epochs"] == 60
    for better, worse in zip(p.recommendations, p.recommendations[1:], strict=False):
        if better.priority == worse.priority:
            assert better.gain_per_cost >= worse.gain_per_cost
    assert not set(names) & {"add_augmentation", "add_dropout", "add_weight_decay",
                             "label_smoothing", "grad_clip"}


def test_recommendations_touch_distinct_settings() -> None:
    # no two recommendations patch the same setting (the preview applies them all)
    p, _ = _plan(overfit_seeds(), config=clean_config(**BARE))
    keys = [k for r in p.recommendations for k in r.changes]
    assert len(keys) == len(set(keys))


def test_facts_record_of_a_recommendation() -> None:
    # what phase3.recommendations keeps: id, priority, changes, gain range, finding
    p, _ = _plan(overfit_seeds(), config=clean_config(**BARE))
    fact = p.recommendations[0].fact()
    assert fact == {
        "id": "R1", "name": "add_augmentation", "priority": "HIGH",
        "changes": {"data.augment": [{"name": "affine", "degrees": 10.0, "translate": 0.1}]},
        "expected_gain": [0.0, 11.2], "finding": "overfitting",
    }


def test_less_capacity_only_once_augmentation_and_dropout_are_in_place() -> None:
    # a smaller model competes with augmentation and dropout (all together underfit), so it is
    # proposed only when both are already set
    bare, _ = _plan(overfit_seeds(), config=clean_config(**BARE))
    assert "less_capacity" not in {r.name for r in bare.recommendations}
    regularized = clean_config(**{**BARE, "model.dropout": 0.3, "data.augment": [
        {"name": "affine", "degrees": 10.0, "translate": 0.1}]})
    p, _ = _plan(overfit_seeds(), config=regularized)
    shrink = next(r for r in p.recommendations if r.name == "less_capacity")
    assert shrink.changes == {"model.widths": [32]}


def test_lr_too_low_raises_the_lr_tenfold() -> None:
    # a slow straight-line loss at adam lr 1e-4: raise it 10x (a guess, so its range is searched)
    runs = seeds(train_loss=lambda e: 2.32 - 0.02 * e, val_loss=lambda e: 2.35 - 0.02 * e,
                 train_accuracy=lambda e: 0.2 + 0.01 * e, val_accuracy=lambda e: 0.2 + 0.01 * e,
                 val_balanced_accuracy=lambda e: 0.2 + 0.01 * e)
    p, _ = _plan(runs, config=clean_config(**{"optimizer.lr": 1e-4}))
    first = p.recommendations[0]
    assert (first.name, first.finding, first.changes) == ("raise_lr", "lr_too_low",
                                                          {"optimizer.lr": 0.001})
    assert first.space["optimizer.lr"] == {"type": "float", "low": 0.0001, "high": 0.003,
                                           "log": True}
    assert "underfitting" not in p.root_causes  # a symptom of the low lr
