"""The phase settings of a command: the project file's, overridden by its flags, checked up front.

A project file carries every setting `phasegate run` needs (workflow.project:
`probes`, `probe_steps`, `strategy`, `sweep`, `workers`); a command's flags override them for
that command only (the run directory's project.yaml is never changed by a
flag). `resolve` merges the two into one `PhaseSettings`, which every command
that runs a phase (`run`, `diagnose`, `optimize`) hands to the phases.

`check_project` is what `init` and `run` call before anything is created: the
baseline config fits the trainer's config model (a typo like `momentun` is one
line, exit 2, not an error at `baseline`), every plug-in the project and its
baseline name imports and fits its contract, and the sweep's settings and
space are valid and fit the baseline. It imports the sweep (Optuna) only when
the project asks for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.errors import ConfigError, PluginError, UsageError
from workflow.project import ProjectConfig

__all__ = ["PhaseSettings", "check_project", "check_workers", "resolve"]

SPACE_SOURCE = "sweep.space"


@dataclass(frozen=True)
class PhaseSettings:
    """What the phases run with: Phase 3's probes, Phase 4's strategy and sweep, the workers."""

    probes: tuple[str, ...] = ()
    # the training steps Phase 3's probes may spend (the project's probe_steps)
    probe_steps: int = 0
    strategy: str = "auto"
    sweep: Mapping[str, Any] = field(default_factory=dict)  # SweepSettings fields
    space: Mapping[str, Any] | None = None  # the search space as data (None: Phase 3's)
    workers: int | None = None
    # the sweep flags a command was given (not the project file's settings): they ask for a
    # sweep, so a Phase 4 that runs another strategy refuses them instead of ignoring them
    sweep_flags: tuple[str, ...] = ()

    @property
    def asks_for_sweep(self) -> bool:
        """Whether these settings ask for a sweep by name (not by Phase 3's choice)."""
        return self.strategy == "sweep"

    def to_dict(self) -> dict[str, Any]:
        return {"probes": list(self.probes), "probe_steps": self.probe_steps,
                "strategy": self.strategy,
                "sweep": dict(self.sweep), "space": dict(self.space) if self.space else None,
                "workers": self.workers}


def check_workers(workers: int | None, *, source: str = "--workers") -> int | None:
    """`workers` when it is a usable count (None: the default); `UsageError` otherwise."""
    if workers is not None and workers < 1:
        raise UsageError(f"{source} must be at least 1, but got {workers}")
    return workers


def resolve(
    project: ProjectConfig,
    *,
    probes: Sequence[str] | None = None,
    strategy: str | None = None,
    space: str | Path | None = None,
    method: str | None = None,
    pruner: str | None = None,
    trials: int | None = None,
    top_k: int | None = None,
    workers: int | None = None,
) -> PhaseSettings:
    """The project file's settings with each flag that was given (not None) in its place."""
    sweep = {**project.sweep.settings(),
             **{k: v for k, v in (("method", method), ("pruner", pruner), ("trials", trials),
                                  ("top_k", top_k)) if v is not None}}
    chosen = strategy if strategy not in (None, "auto") else project.strategy
    given_space: Mapping[str, Any] | None
    if space is not None:
        given_space = _space_data(Path(space), source=str(space))
    else:
        given_space = _project_space(project)
    budget = project.probe_steps
    settings = PhaseSettings(
        # the project's probes, and the lr range test when it fits the budget; a --probe
        # flag names exactly the probes it wants
        probes=tuple(probes if probes is not None else _default_probes(project.probes, budget)),
        probe_steps=budget,
        strategy=chosen,
        sweep=sweep,
        space=given_space,
        workers=check_workers(workers if workers is not None else project.workers),
        sweep_flags=tuple(name for name, value in (
            ("--space", space), ("--method", method), ("--pruner", pruner),
            ("--trials", trials), ("--top-k", top_k)) if value is not None),
    )
    _check_sweep(settings)
    _check_probes(settings.probes)
    return settings


def check_project(project: ProjectConfig, *, source: str) -> PhaseSettings:
    """Everything `init` checks before it creates a run directory (see the module docstring)."""
    from workflow.own_config import load_config

    # a typo in the baseline: one line, exit 2 (by the trainer's own model, when it has one)
    config = load_config(project.baseline, project.trainer)
    _check_plugins(project, config)
    try:
        settings = resolve(project)
    except ConfigError as exc:
        raise type(exc)(f"{source}: {exc}") from None
    if settings.space is not None:
        from phases.optimization.sweep import space_from_phase3

        space_from_phase3(settings.space, source=f"{source}: {SPACE_SOURCE}").check_config(config)
    return settings


def _project_space(project: ProjectConfig) -> Mapping[str, Any] | None:
    space = project.sweep.space
    if space is None:
        return None
    if isinstance(space, Path):
        return _space_data(space, source=f"{SPACE_SOURCE} ({space})")
    from phases.optimization.sweep import parse_space

    parse_space(dict(space), source=SPACE_SOURCE)  # a bad space: one line, exit 2
    return dict(space)


def _space_data(path: Path, *, source: str) -> dict[str, Any]:
    from phases.optimization.sweep import load_space

    if not path.is_file():
        raise ConfigError(f"{source}: search space file not found: {path}")
    return load_space(path).to_dict()


def _check_sweep(settings: PhaseSettings) -> None:
    if not settings.sweep and settings.space is None:
        return
    from phases.optimization.sweep import SweepSettings, check_extensions
    from workflow.io import validate

    checked = validate(dict(settings.sweep), SweepSettings, source="sweep")
    check_extensions(checked)  # a user's sampler or pruner that does not fit: exit 2


def _default_probes(given: Sequence[str], budget: int) -> list[str]:
    from phases.diagnostic.probes import default_probes

    return default_probes(given, budget)


def _check_probes(probes: Sequence[str]) -> None:
    if not probes:
        return
    from phases.diagnostic.probes import PROBES

    unknown = [p for p in probes if p not in PROBES]
    if unknown:
        raise ConfigError(f"probes: unknown probe {unknown[0]!r} (allowed: {', '.join(PROBES)})")


def _check_plugins(project: ProjectConfig, config: Any) -> None:
    """Each `module:function` the project and its baseline name imports and fits its contract."""
    from workflow.own_config import OwnConfig
    from workflow.plugins import load_callable
    from workflow.protocol import resolve_trainer_protocol

    if project.trainer != "builtin":
        # a trainer must carry the project to `promoted`: one that cannot take Phase 5's test
        # look is refused now, not after Phases 3 and 4 trained on it
        missing = resolve_trainer_protocol(project.trainer).missing()
        if missing:
            raise PluginError(f"trainer {project.trainer!r} lacks {' and '.join(missing)}: "
                              "Phase 5 takes its one test look through it (define evaluate "
                              "beside fit, or give the trainer class an evaluate method)")
    if isinstance(config, OwnConfig):  # the trainer's own config: its plug-ins are its own
        return
    if ":" in config.data.dataset:
        load_callable(config.data.dataset, role="dataset", required=("root",))
    if ":" in config.model.name:
        load_callable(config.model.name, role="model", required=())

