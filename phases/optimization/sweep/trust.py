"""What a sweep worker takes from the study's database, and what only from its own host.

The trust model in one line: a worker runs only the trainer and base config of
a project file given on its own host; from the shared database it takes the
trial parameters (and the search's bookkeeping), never code or a config.

Whoever can write to a shared PostgreSQL study could otherwise choose what
every worker runs: a trainer named `module:function`, a dataset or model
plug-in inside the base config, a sampler or pruner class. So:

- given `LocalRun` (the project file and, for a later attempt, the base
  config, read on this host): the worker trains the local base config with the
  local trainer. A study whose stored trainer, sampler or pruner names another
  one, or whose stored base config differs from the local one (paths and the
  seed aside: those are the host's own), is refused in one line, naming what
  differs.
- given nothing: a study that names no code at all (built-in trainer, dataset,
  model, sampler and pruner) may be joined as it is; one that names code is
  refused, saying to give the project file.

The stored base config is parsed under workflow.safe_yaml's limits, so an
alias bomb planted in the database fails in one line too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow.errors import ConfigError
from workflow.own_config import OwnConfig

if TYPE_CHECKING:
    from phases.optimization.sweep.study import SweepSpec
    from workflow.own_config import RunConfig

__all__ = ["LocalRun", "Trusted", "trusted_run"]

# settings that name a path on one host: each host resolves its own
_HOST_PATHS = (("data", "root"), ("model", "pretrained"))


@dataclass(frozen=True)
class LocalRun:
    """The trainer and base config a worker was given on its own host."""

    base: RunConfig
    trainer: str
    source: str  # the file(s) they came from, for messages
    # sampler and pruner classes (`module:Class`) this host agrees to run, beside the built-ins
    extensions: frozenset[str] = frozenset()

    @classmethod
    def from_project(
        cls,
        project: str | os.PathLike[str],
        config: str | os.PathLike[str] | None = None,
        *,
        extensions: frozenset[str] = frozenset(),
    ) -> LocalRun:
        """The project file's trainer and baseline config, or `config` as the base."""
        from workflow.own_config import load_config
        from workflow.project import load_project

        loaded = load_project(project)
        base_file = Path(config) if config is not None else loaded.baseline
        return cls(
            load_config(base_file, loaded.trainer),
            loaded.trainer,
            f"{project}" + (f" and {config}" if config is not None else ""),
            extensions,
        )


@dataclass(frozen=True)
class Trusted:
    """What a worker runs: its base config and trainer, and the spec's search settings."""

    base: RunConfig
    trainer: str


def trusted_run(
    spec: SweepSpec, study_name: str, local: LocalRun | None, *, spawned_here: bool = False
) -> Trusted:
    """The base config and trainer a worker may run for `spec`; ConfigError if none.

    `spawned_here`: a worker process started by this host's own coordinator, which
    wrote `spec` a moment before from its own files, so `spec` is taken as given.
    """
    from workflow.trainer.config import check_seed

    source = f"study {study_name}"
    # the base config is read as its trainer takes it, which imports the trainer: only one
    # this host trusts (its own spawn, the built-in, or the one its project names) is read
    trusted = spawned_here or spec.trainer == "builtin" or (
        local is not None and spec.trainer == local.trainer)
    stored = spec.base(f"{source}: base config") if trusted else None
    try:
        check_seed(spec.train_seed, "train_seed")
        check_seed(spec.seed, "seed")
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    classes = [c for c in (spec.method, spec.pruner) if ":" in c]
    if local is None and spawned_here:
        assert stored is not None
        return Trusted(stored, spec.trainer)
    if local is None:
        named = (_code_named(stored, spec.trainer) if stored is not None
                 else [f"trainer {spec.trainer!r}"]) + classes
        if named:
            raise ConfigError(
                f"{source} names code to run ({', '.join(named)}); a worker runs only code "
                "named in a project file on its own host: give the project file"
            )
        assert stored is not None
        return Trusted(stored, spec.trainer)
    if spec.trainer != local.trainer or stored is None:
        raise ConfigError(
            f"{source}: its trainer {spec.trainer!r} is not {local.source}'s "
            f"{local.trainer!r}; a worker runs only the trainer given on its own host"
        )
    foreign = [c for c in classes if c not in local.extensions]
    if foreign:
        raise ConfigError(
            f"{source}: its sampler or pruner {', '.join(foreign)} was not given on this host; "
            "a worker runs only classes named on its own host"
        )
    changed = _differences(_comparable(stored), _comparable(local.base))
    if changed:
        raise ConfigError(
            f"{source}: its base config differs from {local.source}'s in {', '.join(changed)}; "
            "a worker runs only the config given on its own host"
        )
    return Trusted(local.base, local.trainer)


def _code_named(config: RunConfig, trainer: str) -> list[str]:
    named = [f"trainer {trainer!r}"] if trainer != "builtin" else []
    if isinstance(config, OwnConfig):  # its trainer reads it: named above
        return named
    if ":" in config.data.dataset and not config.data.dataset.startswith("torchvision:"):
        named.append(f"dataset {config.data.dataset!r}")
    if ":" in config.model.name:
        named.append(f"model {config.model.name!r}")
    return named


def _comparable(config: RunConfig) -> dict[str, Any]:
    data = config.model_dump(mode="json")
    if isinstance(config, OwnConfig):  # the trainer's own keys: compared as they are
        return data
    data.pop("seed", None)  # every trial trains with the study's train_seed
    for section, key in _HOST_PATHS:
        data.get(section, {}).pop(key, None)
    return data


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[str] = []
        for key in sorted(set(a) | set(b)):
            found += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return found
    return [] if a == b else [prefix.rstrip(".")]
