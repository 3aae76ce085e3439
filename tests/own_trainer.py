"""Trainers with their own config (issue 13), for tests: no torch, a few epochs in milliseconds.

`fit` (module form) takes `OwnSettings`, a pydantic model (CONFIG_MODEL); `MappingTrainer`
takes a plain mapping (`config_model = dict`). Both refuse any other config, so a test
that trains them shows what `fit` received. The validation "error" falls with the epochs
and is lowest at lr 0.01, with a little noise per seed: a sweep has something to find.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflow.protocol import Evaluation, write_run

TASK = "regression"
RECEIVED = "received.txt"  # the type of the config fit received, written beside the run


class OwnSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "own"
    lr: float = Field(0.05, gt=0)
    epochs: int = Field(3, ge=1)
    width: int = Field(16, ge=1)


CONFIG_MODEL = OwnSettings
TUNABLE = {"lr": {"range": (1e-4, 0.3), "means": "optimizer.lr"},
           "epochs": {"range": (2, 8), "means": "training.epochs"},
           "width": [8, 16, 32]}


def _train(lr: float, epochs: int, width: int, seed: int, out_dir: Path, config: Any,
           report: Any, should_stop: Any) -> Any:
    noise = random.Random(seed)
    rows, reason = [], None
    for epoch in range(1, epochs + 1):
        val = (math.log10(lr) + 2) ** 2 + 1 / epoch + 0.1 / width + 0.01 * noise.random()
        row = {"train_loss": 0.9 * val, "val_loss": val, "val_mse": val}
        rows.append(row)
        if report:
            report(epoch, row)
        if should_stop and (reason := should_stop()):
            break
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / RECEIVED).write_text(type(config).__name__)
    return write_run(out_dir, config, seed, rows, monitor="val_mse", direction="minimize",
                     stop_reason=reason)


def fit(config: OwnSettings, seed: int, out_dir: Path, *, report: Any = None,
        should_stop: Any = None) -> Any:
    if not isinstance(config, OwnSettings):
        raise TypeError(f"fit takes OwnSettings, but got {type(config).__name__}")
    return _train(config.lr, config.epochs, config.width, seed, out_dir, config, report,
                  should_stop)


def evaluate(run_dir: Path, split: str) -> Evaluation:
    return Evaluation([0.0, 1.0], [0.1, 0.9], {f"{split}_mse": 0.01})


class MappingTrainer:
    task = "regression"
    config_model = dict
    tunable = {"learning_rate": {"range": (1e-4, 0.3), "means": "optimizer.lr"},
               "epochs": {"range": (2, 8), "means": "training.epochs"},
               "optimizer": ["adam", "sgd"]}  # named like phasegate's section, means nothing

    def fit(self, config: dict[str, Any], seed: int, out_dir: Path, *, report: Any = None,
            should_stop: Any = None) -> Any:
        if type(config) is not dict:
            raise TypeError(f"fit takes a plain dict, but got {type(config).__name__}")
        return _train(config["learning_rate"], config["epochs"], 16, seed, out_dir, config,
                      report, should_stop)

    def evaluate(self, run_dir: Path, split: str) -> Evaluation:
        return evaluate(run_dir, split)


class LooseSettings(BaseModel):  # pydantic's default: a key it does not know is dropped
    name: str = "loose"
    learning_rate: float = 0.05
    epochs: int = 3


class LooseTrainer:
    """Declares `lr` tunable, but its model calls the field `learning_rate`."""

    task = "regression"
    config_model = LooseSettings
    tunable = {"lr": {"range": (1e-4, 0.3), "means": "optimizer.lr"}}

    def fit(self, config: LooseSettings, seed: int, out_dir: Path, *, report: Any = None,
            should_stop: Any = None) -> Any:
        return _train(config.learning_rate, config.epochs, 16, seed, out_dir, config, report,
                      should_stop)

    def evaluate(self, run_dir: Path, split: str) -> Evaluation:
        return evaluate(run_dir, split)


class AliasSettings(BaseModel):  # the YAML says learning_rate; the code reads config.lr
    model_config = ConfigDict(extra="forbid")

    name: str = "alias"
    lr: float = Field(0.05, gt=0, alias="learning_rate")
    epochs: int = 3


class AliasTrainer(LooseTrainer):
    config_model = AliasSettings
    tunable = {"lr": {"range": (1e-4, 0.3), "means": "optimizer.lr"}}

    def fit(self, config: Any, seed: int, out_dir: Path, *, report: Any = None,
            should_stop: Any = None) -> Any:
        return _train(config.lr, config.epochs, 16, seed, out_dir, config, report, should_stop)
