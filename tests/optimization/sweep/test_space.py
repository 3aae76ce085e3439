"""The search space: validation in one line naming file and field, conditions, grids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from phases.optimization.sweep.space import (
    CategoricalParameter,
    load_space,
    parse_space,
    space_from_phase3,
)
from tests.optimization.sweep.conftest import REPO, tiny_base
from workflow.errors import ConfigError

optuna.logging.set_verbosity(optuna.logging.WARNING)


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_setting_that_is_not_in_the_training_config_is_refused(tmp_path: Path) -> None:
    # a space key must be a dotted path of TrainConfig; the message lists what exists there
    path = write(tmp_path, {"optimizer.learning_rate": {"type": "float", "low": 0.1, "high": 1}})
    with pytest.raises(ConfigError, match=r"optimizer.learning_rate: not a training setting "
                       r"\(optimizer has: name, lr,"):
        load_space(path)


@pytest.mark.parametrize("setting", ["data.split_seed", "data.val_fraction",
                                     "data.test_fraction", "data.max_samples"])
def test_a_setting_that_moves_the_split_is_refused(tmp_path: Path, setting: str) -> None:
    # a trial with another split is judged on other validation examples than the baseline
    # and may train on the locked test split: one line naming the file and the setting
    path = write(tmp_path, {setting: {"type": "categorical", "choices": [0.1, 0.2]}})
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}: {setting}: decides which examples are")


def test_a_condition_must_name_a_categorical_parameter_and_one_of_its_choices() -> None:
    # `when` points at another parameter of the space, categorical, and at values it can take
    lr = {"type": "float", "low": 0.01, "high": 0.1}
    with pytest.raises(ConfigError, match=r"optimizer.momentum.when.optimizer.name: not a "):
        parse_space({"optimizer.momentum": {**lr, "when": {"optimizer.name": "sgd"}}}, source="s")
    with pytest.raises(ConfigError, match=r"not among optimizer.name's choices"):
        parse_space(
            {
                "optimizer.name": {"type": "categorical", "choices": ["sgd", "adam"]},
                "optimizer.momentum": {**lr, "when": {"optimizer.name": "rmsprop"}},
            },
            source="s",
        )
    with pytest.raises(ConfigError, match=r"must name a categorical parameter"):
        parse_space({"optimizer.lr": lr, "model.dropout": {**lr, "when": {"optimizer.lr": 0.1}}},
                    source="s")


def test_values_the_config_refuses_are_caught_before_any_trial() -> None:
    # momentum must stay below 1 in TrainConfig: a range up to 1.0 fails naming the setting
    space = parse_space({"optimizer.momentum": {"type": "float", "low": 0.5, "high": 1.0}},
                        source="space.yaml")
    with pytest.raises(ConfigError, match=r"^space.yaml: optimizer.momentum: "):
        space.check_config(tiny_base())


def test_the_shipped_example_space_loads_and_fits_the_embedded_default() -> None:
    # configs/space.yaml is valid and every value it can take is a valid baseline setting
    from workflow.trainer.config import load_train_config

    space = load_space(REPO / "configs" / "space.yaml")
    space.check_config(load_train_config(REPO / "configs" / "baseline.yaml"))
    assert space.parameters["optimizer.momentum"].when == {"optimizer.name": "sgd"}


def conditional_space() -> Any:
    return parse_space(
        {
            "optimizer.momentum": {"type": "float", "low": 0.5, "high": 0.95,
                                   "grid": [0.8, 0.9], "when": {"optimizer.name": "sgd"}},
            "optimizer.name": {"type": "categorical", "choices": ["sgd", "adam", "adamw"]},
            "optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True,
                             "grid_points": 4},
            "model.widths": {"type": "categorical", "choices": [[16], [32, 16]]},
        },
        source="s",
    )


def test_a_conditional_parameter_exists_only_when_its_condition_holds() -> None:
    # momentum is suggested for sgd trials only; parents are suggested before children
    space = conditional_space()
    assert space.names.index("optimizer.name") < space.names.index("optimizer.momentum")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    names = set()
    for _ in range(30):
        trial = study.ask()
        changes = space.suggest(trial)
        names.add(changes["optimizer.name"])
        assert ("optimizer.momentum" in changes) == (changes["optimizer.name"] == "sgd")
        assert changes["model.widths"] in ([16], [32, 16])  # list choices come back as lists
        tiny_base().with_changes(changes)
        study.tell(trial, 0.5)
    assert names == {"sgd", "adam", "adamw"}


def test_the_grid_enumerates_conditional_branches_without_repeats() -> None:
    # grid: lr 4 points x widths 2 x (sgd with 2 momenta + adam + adamw) = 32, all distinct
    space = conditional_space()
    grid = space.grid()
    assert len(grid) == 4 * 2 * (2 + 1 + 1)
    assert len({repr(sorted(p.items())) for p in grid}) == len(grid)
    lrs = sorted({p["optimizer.lr"] for p in grid})
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(0.1)
    assert all(("optimizer.momentum" in p) == (p["optimizer.name"] == "sgd") for p in grid)


def test_phase3_search_space_builds_a_space() -> None:
    # the dict Phase 3 records (phase3.search_space) is a valid space, list choices included
    recorded = {
        "optimizer.lr": {"type": "float", "low": 0.0033, "high": 0.03, "log": True},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "log": False},
        "training.epochs": {"type": "int", "low": 30, "high": 75},
        "data.augment": {"type": "categorical", "choices": [[], [{"name": "mixup", "alpha": 0.2}]]},
    }
    space = space_from_phase3(recorded)
    assert space.names == list(recorded)
    augment = space.parameters["data.augment"]
    assert isinstance(augment, CategoricalParameter) and augment.encoded
    assert space.decode({"data.augment": augment.optuna_choices()[1]}) == {
        "data.augment": [{"name": "mixup", "alpha": 0.2}]
    }
    space.check_config(tiny_base())
    with pytest.raises(ConfigError, match=r"^facts.json: phase3.search_space: model.dropout.type"):
        space_from_phase3({"model.dropout": {"type": "normal"}})
