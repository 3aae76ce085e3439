"""The strategy registry: the built-ins, checked at import, and how a name becomes a class."""

from __future__ import annotations

import inspect

import pytest

from phases.optimization.strategies import (
    STRATEGIES,
    IterativeStrategy,
    Strategy,
    SweepStrategy,
    TargetedStrategy,
    strategy_class,
)
from tests.optimization.strategies.user_strategy import SPEC, OneShot
from workflow.errors import ConfigError, ExtensionError
from workflow.project import BUILTIN_STRATEGIES


def test_every_built_in_is_a_concrete_strategy_under_the_name_a_project_accepts() -> None:
    # the rule: the registry and the project file's names are one list; each is concrete
    assert tuple(STRATEGIES) == BUILTIN_STRATEGIES == ("targeted", "iterative", "sweep")
    assert STRATEGIES == {"targeted": TargetedStrategy, "iterative": IterativeStrategy,
                          "sweep": SweepStrategy}
    for cls in STRATEGIES.values():
        assert issubclass(cls, Strategy) and not inspect.isabstract(cls)


def test_the_base_asks_for_exactly_plan_and_run() -> None:
    # the extension point is small: two abstract methods
    assert Strategy.__abstractmethods__ == frozenset({"plan", "run"})


def test_only_iterative_goes_on_after_a_revert() -> None:
    # the rule: after C, targeted and sweep stop in diagnosed; iterative plans again
    assert {n for n, c in STRATEGIES.items() if c.continues_after_revert} == {"iterative"}
    assert not OneShot.continues_after_revert


def test_a_name_becomes_its_class() -> None:
    # a built-in by its name, a user's by module:Class; anything else is refused in one line
    assert strategy_class("sweep") is SweepStrategy
    assert strategy_class(SPEC) is OneShot
    with pytest.raises(ConfigError, match="unknown strategy 'greedy'"):
        strategy_class("greedy")
    with pytest.raises(ExtensionError, match="does not implement run"):
        strategy_class("tests.optimization.strategies.user_strategy:NoRun")
