"""Phase 4's strategies: a `Strategy` base, the built-in ones, and a user's `module:Class`.

| name      | class               | an attempt                                          |
|-----------|---------------------|-----------------------------------------------------|
| targeted  | `TargetedStrategy`  | every HIGH and MEDIUM recommendation at once        |
| iterative | `IterativeStrategy` | the HIGH ones, re-diagnosed each round; goes on after C |
| sweep     | `SweepStrategy`     | a search of the recommended knobs, then targeted    |

`STRATEGIES` is the registry of the built-ins, checked when this package is
imported: every entry is a concrete `Strategy`, and the names are exactly the
ones a project file accepts (workflow.project.BUILTIN_STRATEGIES). Anything else
a project names is a user's class, loaded and checked by `strategy_class`.
"""

from __future__ import annotations

import inspect

from phases.optimization.strategies._iterative import IterativeStrategy
from phases.optimization.strategies._sweep import SweepStrategy
from phases.optimization.strategies._targeted import TargetedStrategy
from phases.optimization.targeted import AttemptPlan
from workflow.errors import ConfigError
from workflow.plugins import load_class
from workflow.project import BUILTIN_STRATEGIES
from workflow.strategy import AttemptResult, Strategy

__all__ = [
    "STRATEGIES",
    "AttemptPlan",
    "AttemptResult",
    "IterativeStrategy",
    "Strategy",
    "SweepStrategy",
    "TargetedStrategy",
    "is_strategy_name",
    "strategy_class",
]

STRATEGIES: dict[str, type[Strategy]] = {
    "targeted": TargetedStrategy,
    "iterative": IterativeStrategy,
    "sweep": SweepStrategy,
}


def _check_registry() -> None:
    if tuple(STRATEGIES) != BUILTIN_STRATEGIES:
        raise TypeError(
            f"the strategy registry {tuple(STRATEGIES)} must match the names a project "
            f"accepts {BUILTIN_STRATEGIES}"
        )
    for name, cls in STRATEGIES.items():
        if not issubclass(cls, Strategy) or inspect.isabstract(cls):
            raise TypeError(f"strategy {name!r}: {cls.__name__} is not a concrete Strategy")


_check_registry()


def is_strategy_name(name: str) -> bool:
    """A built-in strategy's name or the shape of a user's `module:Class`."""
    return name in STRATEGIES or ":" in name


def strategy_class(name: str) -> type[Strategy]:
    """The class of a built-in strategy, or a user's `module:Class` checked against the base.

    A user's class that does not derive from `Strategy` or leaves `plan` or `run`
    unimplemented is an ExtensionError naming what is missing.
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    if ":" not in name:
        raise ConfigError(
            f"unknown strategy {name!r} (allowed: {', '.join(STRATEGIES)}, or module:Class)"
        )
    return load_class(name, role="strategy", base=Strategy)
