"""A project: what is optimized, against which baseline, under which statistical rules.

A project file is YAML validated as `ProjectConfig`; `load_project` also makes
the baseline path absolute (it is written relative to the project file),
checks that the baseline config exists, so a run directory never depends on
the folder a command was started from, and loads a user's strategy named as
`module:Class`, so one that does not fit Phase 4's `Strategy` base is refused
when the project is created.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflow.errors import ConfigError, PluginError
from workflow.io import load_model
from workflow.metric import Metric

__all__ = [
    "BUILTIN_STRATEGIES",
    "NAME_PATTERN",
    "ProjectConfig",
    "Target",
    "check_name",
    "load_project",
]

# a project name becomes a folder name under runs/: keep it a plain slug
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_TRAINER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# Phase 4's built-in strategies (phases.optimization.strategies checks its registry against
# these at import); a project may also name its own as module:Class
BUILTIN_STRATEGIES = ("targeted", "iterative", "sweep")


class Target(BaseModel):
    """The metric the optimization is judged on."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(default="val_accuracy", pattern=r"^[A-Za-z_]\w*$")
    direction: Literal["maximize", "minimize"] = "maximize"
    goal: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _direction_from_metric(cls, data: Any) -> Any:
        # a loss is minimized: `metric: val_loss` alone must not be maximized by default
        if isinstance(data, dict) and "direction" not in data:
            metric = data.get("metric")
            if isinstance(metric, str):
                return {**data, "direction": Metric.default_direction(metric)}
        return data

    @model_validator(mode="after")
    def _direction_fits_metric(self) -> Target:
        # Phase 4's gains, the sweep's study and Phase 3's findings all read a metric ending
        # in "loss" as lower-is-better; a maximized loss would call a worse model better
        if Metric.named(self.metric).is_loss and self.direction == "maximize":
            raise ValueError(
                f"{self.metric} is a loss, so lower is better: direction must be 'minimize', "
                "but got 'maximize'"
            )
        return self

    @property
    def measure(self) -> Metric:
        """The target metric with its direction: every direction question goes through it."""
        return Metric.named(self.metric, self.direction)


class ProjectConfig(BaseModel):
    """One project file. Effects are in the metric's units (accuracy: 0.01 is one point)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    baseline: Path
    target: Target = Field(default_factory=Target)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=3)
    fresh_seeds: list[int] = Field(default_factory=lambda: [100, 101, 102, 103, 104], min_length=3)
    min_effect: float = Field(default=0.01, ge=0)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    # the chance of detecting a true gain of min_effect: Phase 3's seed advice is sized for it
    power: float = Field(default=0.8, gt=0, lt=1)
    iteration_limit: int = Field(default=3, ge=1)
    time_budget_minutes: float | None = Field(default=None, gt=0)
    strategy: str = "auto"  # auto, a built-in strategy, or a user's module:Class
    trainer: str = "builtin"

    @field_validator("seeds", "fresh_seeds")
    @classmethod
    def _unique(cls, seeds: list[int]) -> list[int]:
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ValueError(f"seeds must be unique, but {repeated} repeat")
        return seeds

    @field_validator("trainer")
    @classmethod
    def _trainer_spec(cls, spec: str) -> str:
        if spec != "builtin" and not _TRAINER_PATTERN.match(spec):
            raise ValueError(f"expected 'builtin' or 'module:function', but got {spec!r}")
        return spec

    @field_validator("strategy")
    @classmethod
    def _strategy_spec(cls, spec: str) -> str:
        if spec not in ("auto", *BUILTIN_STRATEGIES) and not _TRAINER_PATTERN.match(spec):
            raise ValueError(
                "expected 'auto', 'targeted', 'sweep' or 'iterative', or 'module:Class' "
                f"for a strategy of your own, but got {spec!r}"
            )
        return spec

    @model_validator(mode="after")
    def _fresh_seeds_are_fresh(self) -> ProjectConfig:
        # a sweep winner re-run on seeds it was selected on is still biased upward
        shared = sorted(set(self.seeds) & set(self.fresh_seeds))
        if shared:
            raise ValueError(f"fresh_seeds must not repeat seeds, but {shared} are in both")
        return self


def check_name(name: str) -> str:
    """`name` if it is a usable project name, else a `ConfigError` saying what is allowed."""
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(
            f"project name {name!r} is not allowed: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (at most 64 characters)"
        )
    return name


def load_project(path: str | os.PathLike[str], *, require_baseline: bool = True) -> ProjectConfig:
    """Load a project file; its baseline path becomes absolute (relative to the file's folder)."""
    path = Path(path)
    config = load_model(path, ProjectConfig)
    if config.trainer == "builtin":
        from workflow.trainer.config import MONITORS

        # the built-in trainer records only these: a typo would surface after training
        if config.target.metric not in MONITORS:
            raise ConfigError(
                f"{path}: target.metric: the built-in trainer records no metric "
                f"{config.target.metric!r} (allowed: {', '.join(MONITORS)})"
            )
    if ":" in config.strategy:
        from workflow.plugins import load_class
        from workflow.strategy import Strategy

        # a user's strategy that does not fit fails here, at init, not in Phase 4
        try:
            load_class(config.strategy, role="strategy", base=Strategy)
        except PluginError as exc:
            raise type(exc)(f"{path}: {exc}") from None
    baseline = (path.parent / config.baseline.expanduser()).resolve()
    if require_baseline and not baseline.is_file():
        raise ConfigError(f"{path}: baseline: file not found: {baseline}")
    return config.model_copy(update={"baseline": baseline})
