"""Bounds of the training config (issue 17): every number a run uses is finite where infinity
means nothing and below where torch, numpy or Python overflow, refused at validation in one
line; and the checks that can only be made once the data is known (a model's size, resized
images) come before any allocation."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from tests.conftest import tiny_config
from workflow.errors import ConfigError, DataError
from workflow.io import validate
from workflow.trainer.config import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LR,
    MAX_SEED,
    ModelConfig,
    TrainConfig,
    check_seed,
)
from workflow.trainer.data import _resize
from workflow.trainer.models import MAX_PARAMETERS, check_size

INF, NAN = math.inf, math.nan


def _config(**changes: Any) -> TrainConfig:
    return validate(tiny_config(**changes), TrainConfig, source="c.yaml")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seed": 2**63}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": -5}, "seed"),
        ({"data__split_seed": MAX_SEED + 1}, "data.split_seed"),
        ({"data__batch_size": 2**63}, "data.batch_size"),
        ({"data__batch_size": MAX_BATCH_SIZE + 1}, "data.batch_size"),
        ({"data__max_samples": 2**63}, "data.max_samples"),
        ({"data__image_size": 10**6}, "data.image_size"),
        ({"data__workers": 10**6}, "data.workers"),
        ({"data__augment": [{"name": "blur", "sigma": INF}]}, "data.augment.0.blur.sigma"),
        ({"data__augment": [{"name": "blur", "sigma": 1e6}]}, "data.augment.0.blur.sigma"),
        ({"data__augment": [{"name": "noise", "std": NAN}]}, "data.augment.0.noise.std"),
        ({"data__augment": [{"name": "affine", "scale": [0, 1]}]}, "data.augment.0.affine.scale.0"),
        ({"data__augment": [{"name": "affine", "scale": [2, 1]}]}, "data.augment.0.affine"),
        ({"data__augment": [{"name": "mixup", "alpha": 1e308}]}, "data.augment.0.mixup.alpha"),
        ({"data__augment": [{"name": "random_crop", "padding": 2**63}]},
         "data.augment.0.random_crop.padding"),
        ({"data__dataset": "no colon or known name"}, "data.dataset"),
        ({"data__root": "dir\x00name"}, "data.root"),
        ({"model__widths": [10**12]}, "model.widths.0"),
        ({"model__widths": [8] * 129}, "model.widths"),
        ({"model__width": 1e12}, "model.width"),
        ({"model__channels": []}, "model.channels"),
        ({"optimizer__lr": 1e308}, "optimizer.lr"),
        ({"optimizer__lr": INF}, "optimizer.lr"),
        ({"optimizer__lr": NAN}, "optimizer.lr"),
        ({"optimizer__lr": MAX_LR * 2}, "optimizer.lr"),
        ({"optimizer__betas": [2, -1]}, "optimizer.betas.0"),
        ({"optimizer__betas": [0.9, 1.0]}, "optimizer.betas.1"),
        ({"optimizer__weight_decay": INF}, "optimizer.weight_decay"),
        ({"schedule__warmup_epochs": INF}, "schedule.warmup_epochs"),
        ({"schedule__max_lr_ratio": 1e308}, "schedule.max_lr_ratio"),
        ({"training__epochs": 2**64}, "training.epochs"),
        ({"training__epochs": MAX_EPOCHS + 1}, "training.epochs"),
        ({"training__grad_clip": INF}, "training.grad_clip"),
        ({"training__early_stopping": {"min_delta": INF}}, "training.early_stopping.min_delta"),
        ({"training__stages": [{"epochs": MAX_EPOCHS, "train": "all"}] * 2}, "training"),
        ({"name": "run\n"}, "name"),
        ({"name": "\x1b[2J"}, "name"),
        ({"name": ""}, "name"),
    ],
)
def test_a_value_that_means_nothing_is_one_line_naming_its_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _config(**changes)
    message = str(info.value)
    assert message.startswith(f"c.yaml: {field}:"), message
    assert "\n" not in message


# rule: the bounds refuse only what is past them
def test_values_at_the_bounds_are_valid() -> None:
    config = _config(seed=MAX_SEED, data__batch_size=MAX_BATCH_SIZE, optimizer__lr=MAX_LR,
                     optimizer__betas=[0.0, 0.999], training__epochs=MAX_EPOCHS,
                     data__augment=[{"name": "blur", "sigma": 32}])
    assert config.seed == MAX_SEED and config.training.epochs == MAX_EPOCHS


def test_check_seed_is_the_rule_for_seeds_given_elsewhere() -> None:
    assert check_seed(0) == 0 and check_seed(MAX_SEED) == MAX_SEED
    for bad in (-5, MAX_SEED + 1, 2**64, True, 1.5):
        with pytest.raises(ValueError, match=r"--seed must be a whole number from 0 to"):
            check_seed(bad, "--seed")  # type: ignore[arg-type]


# rule: a sweep's change below an unset section sets that section with its defaults; below a
# value it is one line, never a TypeError
def test_with_changes_below_an_unset_section_and_below_a_value() -> None:
    config = _config()
    assert config.training.early_stopping is None
    changed = config.with_changes({"training.early_stopping.patience": 3}, source="s")
    assert changed.training.early_stopping is not None
    assert changed.training.early_stopping.patience == 3
    with pytest.raises(ConfigError, match=r"^s: optimizer.lr.x: optimizer.lr is a value"):
        config.with_changes({"optimizer.lr.x": 1}, source="s")


# rule: an mlp or cnn past MAX_PARAMETERS is refused by counting, before torch allocates it
def test_a_model_too_large_is_refused_before_it_is_built() -> None:
    check_size(ModelConfig(widths=[64, 64]), (1, 8, 8), 10)
    with pytest.raises(ConfigError, match=r"model.widths: the mlp would have .* parameters"):
        check_size(ModelConfig(widths=[60_000, 60_000]), (1, 8, 8), 10)
    with pytest.raises(ConfigError, match=r"model.channels: the cnn would have"):
        check_size(ModelConfig(name="cnn", channels=[8192] * 40), (1, 8, 8), 10)
    assert MAX_PARAMETERS == 2**31


# rule: resized images that cannot fit this machine's memory are a DataError, not an allocation
def test_resized_images_past_the_memory_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import workflow.trainer.data as data

    x = torch.zeros(10, 1, 8, 8)
    assert _resize(x, 16).shape == (10, 1, 16, 16)
    monkeypatch.setattr(data, "_memory_bytes", lambda: 1000)
    with pytest.raises(DataError, match=r"data.image_size: 16 px makes 10 images take"):
        _resize(x, 16)
