"""One parameter of a space: validation in one line naming file and field, grid values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from phases.optimization.sweep.parameters import (
    CategoricalParameter,
    FloatParameter,
    IntParameter,
    parse_parameter,
)
from phases.optimization.sweep.space import load_space
from workflow.errors import ConfigError


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("parameter", "field", "words"),
    [
        ({"type": "uniform", "low": 0.1, "high": 1.0}, "optimizer.lr.type",
         "unknown parameter type 'uniform' (allowed: float, int, categorical)"),
        ({"type": "categorical", "choices": []}, "optimizer.lr.choices", "empty choice list"),
        ({"type": "float", "low": 0.0, "high": 0.1, "log": True}, "optimizer.lr.low",
         "a log range must stay above zero, but got low=0.0"),
        ({"type": "float", "low": -1.0, "high": 0.1, "log": True}, "optimizer.lr.low",
         "a log range must stay above zero"),
        ({"type": "int", "low": 0, "high": 8, "log": True}, "optimizer.lr.low",
         "a log range must stay above zero"),
        ({"type": "float", "low": 0.5, "high": 0.5}, "optimizer.lr.high",
         "high must be above low"),
        ({"type": "float", "low": 0.1, "high": 0.5, "lgo": True}, "optimizer.lr.lgo",
         "unknown field (allowed:"),
        ({"low": 0.1, "high": 0.5}, "optimizer.lr.type", "required field is missing"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_the_file_and_field(
    tmp_path: Path, parameter: dict[str, Any], field: str, words: str
) -> None:
    # unknown type, empty choices, a log range reaching zero or below, low >= high, a typo:
    # one line, "<file>: <field>: <what is wrong>", raised as ConfigError (exit code 2)
    path = write(tmp_path, {"optimizer.lr": parameter})
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}: ")
    assert words in message
    assert info.value.exit_code == 2


def test_grid_values_of_each_kind() -> None:
    # explicit grids are kept (repeats dropped); ranges are evenly spaced (on a log scale
    # when `log`), ints snapped to their step; choices are tried as Optuna stores them
    lr = parse_parameter("optimizer.lr", {"type": "float", "low": 1e-3, "high": 1e-1,
                                          "log": True}, "s")
    assert isinstance(lr, FloatParameter)
    assert lr.grid_values() == pytest.approx([1e-3, 1e-2, 1e-1])
    epochs = parse_parameter("training.epochs", {"type": "int", "low": 10, "high": 50,
                                                 "step": 10, "grid_points": 3}, "s")
    assert isinstance(epochs, IntParameter) and epochs.grid_values() == [10, 30, 50]
    fixed = parse_parameter("model.dropout", {"type": "float", "low": 0.0, "high": 0.5,
                                              "grid": [0.1, 0.1, 0.3]}, "s")
    assert fixed.grid_values() == [0.1, 0.3]
    widths = parse_parameter("model.widths", {"type": "categorical",
                                              "choices": [[16], [32, 16]]}, "s")
    assert isinstance(widths, CategoricalParameter) and widths.encoded
    assert widths.grid_values() == ["[16]", "[32, 16]"]
    assert widths.decode("[32, 16]") == [32, 16]


def test_a_suggested_value_lies_in_its_range() -> None:
    # each kind asks the trial for its own distribution; a choice comes back decoded
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    lr = parse_parameter("lr", {"type": "float", "low": 0.01, "high": 0.1}, "s")
    n = parse_parameter("n", {"type": "int", "low": 2, "high": 8, "step": 2}, "s")
    widths = parse_parameter("w", {"type": "categorical", "choices": [[16], [32]]}, "s")
    assert 0.01 <= lr.suggest(trial, "lr") <= 0.1
    assert n.suggest(trial, "n") in (2, 4, 6, 8)
    assert widths.suggest(trial, "w") in ([16], [32])
