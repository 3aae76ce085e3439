"""Phase 4 with the store: enter it, run attempts, decide, record, move the project on.

`optimize(store, strategy)` is what `phasegate optimize` calls. It holds the
project's lock throughout and loops:

1. enters Phase 4 through the `optimize` transition when the project is
   `diagnosed` (the diagnostics_complete gate decides; a refusal changes nothing),
   or resumes when it is already `optimizing`;
2. asks the strategy (phases.optimization.strategies) for the attempt's plan and
   saves it in `phase4/attempt-<k>/` before anything trains;
3. has the strategy run it (train every project seed into `attempt-<k>/seed-<n>/`,
   or search, and compare the target metric with the best arm so far); a seed
   finished by an earlier, killed run is not trained again;
4. diagnoses the new runs (`attempt-<k>/diagnosis/`), decides (decision.decide),
   records the attempt and a fresh `phase4.decision` with its reason (recording.py),
   writes `phase4/optimization_config.yaml`, the checkpoints of the best arm so far
   (not after C) and `optimization_results.md` (artifacts.py), then takes the
   decision's transition.

After B (a significant gain short of the target) every strategy goes on by
itself: the next attempt applies the next recommendations of the new runs'
diagnosis (decided so: the user asked for Phase 4, and B is not an answer; the
iteration limit bounds it). After C a strategy stops, back in `diagnosed` (the
caller exits 1), unless it `continues_after_revert` (iterative): then it re-enters
Phase 4 and tries the next recommendations, stopping only at A, D or the limit.
When no untried recommendation is left, Phase 4 is refused from `diagnosed`
(nothing changes), or, after B, ends with decision budget (flagged: the
recommendations are spent).

Facts recorded under `phase4.` are workflow.facts.Phase4Facts (one AttemptRecord
per attempt): what the optimization_complete gate and `phasegate advance` read.

A kill at any moment is safe: the plan, the seeds' runs and the diagnosis are on
disk, and a decision is recorded (with `pending_transition`) before its
transition is taken, so a rerun finishes the move instead of trying again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phases.optimization.artifacts import write_artifacts
from phases.optimization.context import PHASE4_DIR, Context
from phases.optimization.decision import DecisionCode
from phases.optimization.recording import Recorded, decide_attempt, decide_nothing_left, record
from phases.optimization.strategies import (
    STRATEGIES,
    Strategy,
    is_strategy_name,
    strategy_class,
)
from phases.optimization.targeted import AttemptPlan
from workflow.errors import ConfigError, Refused
from workflow.facts import AttemptRecord, read_facts
from workflow.machine import MACHINE, require, take
from workflow.progress import Progress, QuietProgress
from workflow.store import Store

__all__ = ["PHASE4_DIR", "STRATEGIES", "Outcome", "optimize", "resolve_strategy"]



@dataclass(frozen=True)
class Outcome:
    """Where Phase 4 left the project."""

    project: str
    state: str
    strategy: str | None
    decision: str | None
    reason: str | None
    attempts: list[AttemptRecord] = field(default_factory=list)
    report: Path | None = None

    @property
    def refused(self) -> bool:
        """Phase 4 did not end (back in Phase 3 after decision C): the CLI exits 1."""
        return not MACHINE.is_past(self.state, "optimize")

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "state": self.state,
            "strategy": self.strategy,
            "decision": self.decision,
            "reason": self.reason,
            "attempts": [
                {"attempt": a.attempt, "strategy": a.strategy, "decision": a.decision,
                 "reason": a.reason}
                for a in self.attempts
            ],
            "report": str(self.report) if self.report else None,
        }


def resolve_strategy(store: Store, requested: str) -> str:
    """`auto`: the strategy of a Phase 4 under way, else Phase 3's, else the project's.

    A user's strategy (`module:Class` in the project file) is an explicit choice: with
    `auto` it comes before Phase 3's, which picks among the built-ins.
    """
    if requested != "auto" and requested not in STRATEGIES:
        raise ConfigError(
            f"unknown strategy {requested!r} (allowed: auto, {', '.join(STRATEGIES)})"
        )
    facts = read_facts(store)
    running = facts.phase4.strategy if store.current == "optimizing" else None
    if requested == "auto":
        preference = store.project.strategy
        users = preference if ":" in preference else None
        for candidate in (running, users, facts.phase3.strategy, preference):
            if candidate and is_strategy_name(candidate):
                return candidate
        return "targeted"
    if running and is_strategy_name(running) and running != requested:
        raise ConfigError(
            f"Phase 4 of {store.name} is running the {running} strategy; rerun with "
            f"--strategy {running} (or auto) to resume it"
        )
    return requested


def optimize(
    store: Store,
    strategy: str = "auto",
    *,
    who: str = "phasegate",
    workers: int | None = None,
    progress: Progress | None = None,
    sweep_settings: Mapping[str, Any] | None = None,
    space: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run Phase 4 until a decision ends it (see the module docstring); resumable.

    `workers`: processes training seeds (and a sweep's trials). `sweep_settings`:
    fields of the sweep's SweepSettings (trials, method, ...) for --strategy sweep;
    its monitor defaults to the project's target metric. `space`: the search space
    (as data) of the first sweep attempt, instead of the one Phase 3 recorded
    (`phase3.search_space`). Either is refused for another strategy.
    """
    with store.lock():
        return _Loop(store, who, workers, progress or QuietProgress(), sweep_settings,
                     space).go(strategy)


class _Loop:
    """One `optimize` call: the states, the attempts and the moves between them."""

    def __init__(
        self,
        store: Store,
        who: str,
        workers: int | None,
        progress: Progress,
        sweep_settings: Mapping[str, Any] | None,
        space: Mapping[str, Any] | None,
    ) -> None:
        self.store = store
        self.who = who
        self.workers = workers
        self.progress = progress
        self.sweep_settings = sweep_settings
        self.space = space

    def go(self, requested: str) -> Outcome:
        name, state = self.store.name, self.store.current
        if MACHINE.is_past(state, "optimize"):
            self.progress.note(f"{name} is {state}: Phase 4 is done")
            return self.outcome()
        require(self.store, "optimize")
        if state == "diagnosed" and read_facts(self.store).phase3.strategy == "skip":
            raise Refused(
                f"Phase 3 chose to skip Phase 4 for {name} (the potential gain is "
                f"small): take the skip with phasegate advance {name}"
            )
        chosen = resolve_strategy(self.store, requested)
        context = Context(self.store, strategy_name=chosen, who=self.who, workers=self.workers,
                          progress=self.progress, sweep_settings=self.sweep_settings,
                          space=self.space)
        strategy: Strategy = strategy_class(chosen)()
        strategy.check(context)  # before anything changes
        if state == "optimizing":
            pending = read_facts(self.store).phase4.pending_transition
            if pending:
                self._take(context, pending, read_facts(self.store).phase4.reason or "")
                if self.store.current != "optimizing" and not (
                    strategy.continues_after_revert and self.store.current == "diagnosed"
                ):
                    return self.outcome()
        while True:
            state = self.store.current
            if state == "optimized":
                return self.outcome()
            k = len(context.attempts()) + 1
            if state == "diagnosed":
                plan: AttemptPlan | None = strategy.plan(context, k)
                if plan is None:
                    tried = [f"attempt {a.attempt}" for a in context.attempts()]
                    raise Refused(
                        f"nothing left to try for {name}: every recommendation was tried "
                        f"({', '.join(tried) or 'none'}) or there is none; re-run phasegate "
                        f"diagnose {name}, or choose another --strategy"
                    )
                self._take(context, "optimize", f"Phase 4 attempt {k} ({chosen})")
                record(context, strategy=chosen, decision=None, reason=None,
                       pending_transition=None)
            else:  # an attempt planned by a killed run is resumed as it was planned
                plan = AttemptPlan.load(context.attempt_dir(k)) or strategy.plan(context, k)
            if plan is None:
                self._finish(context, decide_nothing_left(context))
                return self.outcome()
            decision = self._attempt(context, strategy, plan).decision
            if decision.code is DecisionCode.B:
                continue
            if decision.code is DecisionCode.C and strategy.continues_after_revert:
                continue
            return self.outcome()

    def _attempt(self, context: Context, strategy: Strategy, plan: AttemptPlan) -> Recorded:
        started = time.monotonic()
        folder = context.attempt_dir(plan.attempt)
        reference, ref_record = context.best()
        if AttemptPlan.load(folder) is None:
            plan.save(folder, reference.config)
        record(context, open_attempt=plan.attempt, decision=None, reason=None,
               strategy=context.strategy_name)
        result = strategy.run(context, plan, reference)
        diagnosis = context.diagnose(result.arm, plan.attempt)
        recorded = decide_attempt(context, result, reference, ref_record, diagnosis,
                                  time.monotonic() - started)
        self._finish(context, recorded)
        return recorded

    def _finish(self, context: Context, recorded: Recorded) -> None:
        write_artifacts(context, recorded)
        self._take(context, recorded.decision.transition, recorded.decision.reason)

    def _take(self, context: Context, transition: str, why: str) -> None:
        # the pending mark is set with the decision; a rerun after a kill takes it from there
        taken = take(self.store, transition, self.who, why)
        if transition != "optimize":
            record(context, pending_transition=None)
        self.progress.note(
            f"{self.store.name}: {taken.transition.source} -> {taken.transition.target} "
            f"({transition})"
        )

    def outcome(self) -> Outcome:
        facts = read_facts(self.store).phase4
        report = self.store.run_dir / PHASE4_DIR / "optimization_results.md"
        return Outcome(
            project=self.store.name,
            state=self.store.current,
            strategy=facts.strategy,
            decision=facts.decision,
            reason=facts.reason,
            attempts=list(facts.attempts),
            report=report if report.is_file() else None,
        )
