"""The extension point of Phase 4: a `Strategy` plans each attempt and runs it.

The contract lives in the engine, beside the trainer's, so a project's
`strategy: module:Class` is checked when the project is loaded; the built-in
strategies and their registry are in phases/optimization/strategies/.

Phase 4's loop (phases/optimization/phase.py) owns everything around an attempt:
entering and resuming, saving the plan before anything trains, diagnosing the new
runs, deciding (A/B/C/D/budget), recording, writing the artifacts and taking the
transition. A strategy owns only the two questions that differ between ways of
optimizing:

- `plan(context, attempt)`: what attempt `attempt` applies (an `AttemptPlan`), or None
  when nothing is left to try;
- `run(context, plan, reference)`: carry it out (train, or search and re-run)
  and compare it with `reference`, the best arm so far: an `AttemptResult`.

A user's strategy is a class named as `module:Class` in the project file
(`strategy: mypkg.strategies:Greedy`); it derives from `Strategy`, implements
both methods, and is built with no arguments. It is checked when the project is
loaded (`phasegate init` refuses one that does not fit), and recorded in
`phase4.strategy` under that name.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from workflow.errors import ConfigError

if TYPE_CHECKING:
    from phases.optimization.context import Context
    from phases.optimization.targeted import AttemptPlan
    from workflow.arms import Arm

__all__ = ["AttemptResult", "Strategy"]


@dataclass(frozen=True)
class AttemptResult:
    """What running a plan gave: the arm, its comparison with the reference, and why not.

    `plan` is the plan as carried out (a sweep replaces its search plan with the chosen
    trial's changes); `comparison` is a workflow.stats.Comparison, None when none could
    be made (`note` says why); `sweep` is the sweep's report section, if any.
    """

    plan: AttemptPlan
    arm: Arm
    comparison: Any | None
    note: str = ""
    sweep: dict[str, Any] | None = None


class Strategy(abc.ABC):
    """One way of choosing and running Phase 4's attempts (see the module docstring)."""

    #: after decision C (no significant gain), plan again from `diagnosed` instead of
    #: stopping there (the iterative strategy); B always goes on
    continues_after_revert: ClassVar[bool] = False

    def check(self, context: Context) -> None:
        """Refuse, before Phase 4 is entered, what this strategy cannot run.

        The default refuses a search space or sweep settings: only a sweep takes them.
        """
        if context.space is not None or context.sweep_settings:
            raise ConfigError(
                f"a search space and sweep settings apply to the sweep strategy, but "
                f"{context.store.name} runs {context.strategy_name}"
            )

    @abc.abstractmethod
    def plan(self, context: Context, attempt: int) -> AttemptPlan | None:
        """The plan of attempt `attempt` (1, 2, ...), or None when nothing is left to try.

        `context.best()` is the arm the changes should apply to; `context.tried()` the
        changes earlier attempts tried. Pure planning: nothing trains here, and the
        loop saves the plan before `run`, so a killed run resumes the same attempt.
        """

    @abc.abstractmethod
    def run(self, context: Context, plan: AttemptPlan, reference: Arm) -> AttemptResult:
        """Train (or search) `plan` and compare the result with `reference`.

        Must resume: a seed finished by an earlier, killed run is not trained again
        (`context.train` does this). `context.compare` is the project's comparison.
        """
