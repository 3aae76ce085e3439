"""workflow.metric: the one place that knows a metric's direction and whether it is a rate."""

from __future__ import annotations

import pytest

from workflow.metric import Metric
from workflow.project import Target


# rule: a loss or an error is minimized by default; anything else is maximized
@pytest.mark.parametrize(("name", "direction"), [
    ("val_loss", "minimize"), ("val_mse", "minimize"), ("val_mae", "minimize"),
    ("val_rmse", "minimize"), ("test_error", "minimize"), ("val_accuracy", "maximize"),
    ("val_macro_f1", "maximize"), ("val_cider", "maximize"), ("bleu", "maximize"),
])
def test_default_directions(name: str, direction: str) -> None:
    assert Metric.default_direction(name) == direction
    assert Target(metric=name).direction == direction


# rule: a rate is a fraction in [0, 1] known by its name (accuracy, F1, AUC, ...); an error,
# a loss or a task score (CIDEr) is not, and its differences read in percent of the reference
@pytest.mark.parametrize(("name", "rate"), [
    ("val_accuracy", True), ("val_balanced_accuracy", True), ("val_macro_f1", True),
    ("val_auc", True), ("val_map", True), ("val_mse", False), ("val_loss", False),
    ("val_cider", False),
])
def test_rates_are_known_by_name(name: str, rate: bool) -> None:
    metric = Metric.named(name)
    assert metric.is_rate is rate
    assert metric.unit == ("points" if rate else "%")


# rule: an error's goal is not bounded to [0, 1] (an MSE of 2.5 is a goal), a rate's is
def test_an_error_goal_is_not_a_rate() -> None:
    assert Target(metric="val_mse", goal=2.5).measure.format(2.5) == "2.5000"
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        Target(metric="val_accuracy", goal=2.5)
