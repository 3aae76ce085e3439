"""phases.diagnostic.probes: the lr range test and the batch-size probe on a tiny model."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.probes import (
    STOP_FACTOR,
    batch_probe,
    lr_range_test,
    run_probes,
    steepest_descent,
)
from tests.conftest import tiny_config
from workflow.errors import ConfigError
from workflow.trainer.config import TrainConfig


def test_steepest_descent_finds_the_fastest_fall() -> None:
    # a loss falling fastest at lr 1e-3 (a tanh in log lr) and blowing up after its minimum
    lrs = [10 ** (-6 + 0.05 * i) for i in range(100)]
    losses = [2 - math.tanh(math.log10(lr) + 3) + (5 * (math.log10(lr) + 1) if lr > 0.1 else 0)
              for lr in lrs]
    assert steepest_descent(lrs, losses) == pytest.approx(1e-3, rel=0.13)
    assert steepest_descent(lrs[:3], losses[:3]) is None


def test_lr_range_test_on_a_tiny_model() -> None:
    # the lr grows exponentially, the smoothed loss is kept, and the test stops once the loss is
    # 4x its best; the suggestion lies inside the swept range, below the lr of the lowest loss
    config = TrainConfig.model_validate(tiny_config())
    result = lr_range_test(config, steps=60, start_lr=1e-5, end_lr=100.0)
    lrs, smoothed = result["lrs"], result["smoothed"]
    assert len(lrs) == len(smoothed) == result["steps_run"] <= 60
    assert all(b > a for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[0] == pytest.approx(1e-5)
    assert result["steps_run"] < 60
    assert f"passed {STOP_FACTOR:g}x its best" in result["stop_reason"]
    assert 1e-5 <= result["suggested_lr"] <= result["min_loss_lr"]


def test_batch_probe_times_each_batch_size() -> None:
    # a row per batch size the training split holds, and a suggestion among them
    config = TrainConfig.model_validate(tiny_config())
    result = batch_probe(config, sizes=(16, 32, 64), steps=2)
    assert [row["batch_size"] for row in result["rows"]] == [16, 32, 64]
    assert all(row["samples_per_sec"] > 0 for row in result["rows"])
    assert result["suggested_batch_size"] in (16, 32, 64)


def test_unknown_probe_is_bad_input() -> None:
    # --probe names lr and batch only; anything else is one ConfigError line
    with pytest.raises(ConfigError, match="unknown probe 'speed'"):
        run_probes(TrainConfig(), ["speed"])
