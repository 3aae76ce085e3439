"""A project: what is optimized, against which baseline, under which statistical rules.

A project file is YAML validated as `ProjectConfig`; `load_project` also makes
the baseline path (and a sweep's space file) absolute (they are written
relative to the project file), checks that the baseline config exists, so a
run directory never depends on the folder a command was started from, and
loads a user's strategy named as `module:Class`, so one that does not fit
Phase 4's `Strategy` base is refused when the project is created. The project
file's folder is importable from then on: plug-ins may live beside it.

Besides the target and the statistical rules, a project file carries every
setting `phasegate run` needs to walk it without flags: Phase 3's probes,
Phase 4's strategy and its sweep (space, method, pruner, trials, how many top
trials are re-run on the fresh seeds), and the worker count. Flags of a command
override them for that command. `phases.settings` checks the ones that need a
phase (the space fits the baseline, the sampler exists) when the project is
created.

Every number is bounded (a seed is a 32-bit unsigned integer, a budget at most
ten days, the goal finite and in the metric's range), so a typo is one line at
`init`, never an overflow hours later.
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
from workflow.plugins import importable_from
from workflow.tracking import Tracking
from workflow.trainer.config import MAX_SEED, Seed

__all__ = [
    "BUILTIN_STRATEGIES",
    "MAX_BUDGET_MINUTES",
    "MAX_ITERATIONS",
    "MAX_SEED",
    "NAME_PATTERN",
    "ProjectConfig",
    "SweepChoice",
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
# bounds: a seed is what numpy and torch accept (the trainer's Seed, one definition); a
# budget past ten days or a thousand iterations is a typo, not a plan
MAX_BUDGET_MINUTES = 10 * 24 * 60
MAX_ITERATIONS = 1000
MAX_WORKERS = 1024
MAX_TRIALS = 100_000



class Target(BaseModel):
    """The metric the optimization is judged on, and the goal it should reach."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

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
        goal = self.goal
        if goal is not None:
            # a rate's goal of 97 was accepted once and reported as "goal 9700.0%"
            metric = self.measure
            if metric.is_rate and not 0 <= goal <= 1:
                raise ValueError(
                    f"goal: {self.metric} is a rate between 0 and 1 (0.97 is 97%), so the goal "
                    f"must be in [0, 1], but got {goal!r}"
                )
            if metric.is_loss and goal < 0:
                raise ValueError(
                    f"goal: {self.metric} is a loss, never below 0, so the goal must be at "
                    f"least 0, but got {goal!r}"
                )
        return self

    @property
    def measure(self) -> Metric:
        """The target metric with its direction: every direction question goes through it."""
        return Metric.named(self.metric, self.direction)


class SweepChoice(BaseModel):
    """`sweep:` of a project file: how Phase 4 searches when its strategy is a sweep.

    Each field left out takes the sweep's default (phases.optimization.sweep's
    SweepSettings), and `space` the one Phase 3 recorded. The names are those of
    `phasegate optimize`'s flags, which override them.
    """

    model_config = ConfigDict(extra="forbid")

    # a YAML file (relative to the project file) or the space itself, as in configs/space.yaml
    space: Path | dict[str, dict[str, Any]] | None = None
    method: str | None = Field(default=None, min_length=1)  # grid, random, bayesian, module:Class
    pruner: str | None = Field(default=None, min_length=1)  # none, median, asha, hyperband, ...
    trials: int | None = Field(default=None, ge=1, le=MAX_TRIALS)
    top_k: int | None = Field(default=None, ge=1, le=100)  # top trials re-run on fresh_seeds

    def settings(self) -> dict[str, Any]:
        """The fields given, as the sweep's settings (the space apart)."""
        return {k: v for k, v in self.model_dump(exclude={"space"}).items() if v is not None}


class ProjectConfig(BaseModel):
    """One project file. Effects are in the metric's units (accuracy: 0.01 is one point)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=NAME_PATTERN)
    baseline: Path
    target: Target = Field(default_factory=Target)
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=3)
    fresh_seeds: list[Seed] = Field(default_factory=lambda: [100, 101, 102, 103, 104],
                                    min_length=3)
    min_effect: float = Field(default=0.01, ge=0)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    # the chance of detecting a true gain of min_effect: Phase 3's seed advice is sized for it
    power: float = Field(default=0.8, gt=0, lt=1)
    iteration_limit: int = Field(default=3, ge=1, le=MAX_ITERATIONS)
    time_budget_minutes: float | None = Field(default=None, gt=0, le=MAX_BUDGET_MINUTES)
    strategy: str = "auto"  # auto, a built-in strategy, or a user's module:Class
    trainer: str = "builtin"
    # what `phasegate run` does without flags (each command's flags override them)
    probes: list[str] = Field(default_factory=list)  # Phase 3's active probes: lr, batch, trials
    # the training steps Phase 3's probes may spend: the lr range test (100 steps) runs by
    # default when it fits, trial runs (probes: [trials]) within the rest; 0: none by default
    probe_steps: int = Field(default=1000, ge=0, le=10**8)
    sweep: SweepChoice = Field(default_factory=SweepChoice)
    workers: int | None = Field(default=None, ge=1, le=MAX_WORKERS)
    # the GPUs the workers take in turn (cuda:0, cuda:1, ...); unset: every GPU where there
    # are two or more (workflow.trainer.accel.worker_devices); PHASEGATE_DEVICES overrides
    devices: list[str] | None = Field(default=None, min_length=1)
    # every run logged to MLflow and/or TensorBoard (workflow.tracking)
    tracking: Tracking = Field(default_factory=Tracking)

    @field_validator("devices")
    @classmethod
    def _cuda_devices(cls, devices: list[str] | None) -> list[str] | None:
        bad = [d for d in devices or [] if not re.fullmatch(r"cuda:\d+", d)]
        if bad:
            raise ValueError(f"devices: {', '.join(map(repr, bad))} is not a device a worker "
                             "can take (cuda:0, cuda:1, ...)")
        return devices

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
            raise ValueError(
                f"expected 'builtin' or 'module:function' (or 'module:Class', a trainer of your "
                f"own, see workflow.protocol), but got {spec!r}"
            )
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
    # fullmatch: `re.match` with `$` accepts a trailing newline ("demo\n")
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(
            f"project name {name!r} is not allowed: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (at most 64 characters)"
        )
    return name


def load_project(path: str | os.PathLike[str], *, require_baseline: bool = True) -> ProjectConfig:
    """Load a project file; its baseline path becomes absolute (relative to the file's folder)."""
    path = Path(path)
    config = load_model(path, ProjectConfig)
    # the plug-ins it names may live beside it (mydata.py next to the project file)
    importable_from(path.parent)
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
    _check_tracking(path, config)
    baseline = (path.parent / config.baseline.expanduser()).resolve()
    if require_baseline and not baseline.is_file():
        raise ConfigError(f"{path}: baseline: file not found: {str(baseline)!r}")
    sweep = config.sweep
    if isinstance(sweep.space, Path):
        space = (path.parent / sweep.space.expanduser()).resolve()
        if not space.is_file():
            raise ConfigError(f"{path}: sweep.space: file not found: {str(space)!r}")
        sweep = sweep.model_copy(update={"space": space})
    return config.model_copy(update={"baseline": baseline, "sweep": sweep,
                                     "tracking": config.tracking.resolved(path.parent)})


def _check_tracking(path: Path, config: ProjectConfig) -> None:
    """A tracker the project asks for must be installed: said at init, not after a run."""
    import importlib.util

    for field, module, extra in (("mlflow", "mlflow", "mlflow"),
                                 ("tensorboard", "tensorboard", "tensorboard")):
        if getattr(config.tracking, field) is not None and importlib.util.find_spec(module) is None:
            raise ConfigError(f"{path}: tracking.{field}: the {module} package is not installed "
                              f"(pip install 'phasegate[{extra}]')")
