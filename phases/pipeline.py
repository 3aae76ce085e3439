"""`phasegate run`: walk a project from its baseline to promoted, stopping where a gate says no.

`run_project` creates the project's run directory from its file (or reuses
the one already there, when it holds the same project), then walks the phase
graph (workflow.machine): in each state it runs that state's action, and the
phases' own functions move the project on. An `auto` move (Phase 3 chose
`skip`) is taken as soon as the facts select it. The actions:

- `diagnose` (baseline): train the baseline on every seed, then Phase 3 diagnoses it
- `optimize` (diagnosed, optimizing): Phase 4, with the strategy Phase 3 chose
  (the project's own when it names one); after a revert (decision C), re-diagnose first
- `finalize` (optimized): Phase 5
- `promote` (finalized): sign `model_card_reviewed` when `sign_off` names a person (once the
  model card exists: the sign-off covers its sha256), waive the goal when `waive_goal` gives
  the reason and the final model misses it, promote

The phases run with the project file's settings (its probes, strategy, sweep and
workers), each overridden by what the command was given (`settings`; see
phases.settings). Everything the walk will need is checked before the run
directory is created, so bad input leaves nothing behind.

The walk is driven by the state on disk, and every step resumes its own work,
so a run killed anywhere and started again goes on where it was. It holds the
project's lock from start to end: one `Store` object is passed to every phase.

It stops early with a `Refused` outcome (the CLI exits 1) when a gate fails,
when Phase 4 has been reverted (decision C) as many times as the project's
iteration limit, when a step changed neither the state nor the facts (Phase 4
has nothing left to try), or when the model card waits for a person's
sign-off. The manual item is never signed silently: an unattended run reaches
`promoted` only when it is told who signs (`sign_off`, the CLI's `--sign-off
NAME`), and the sign-off records that it was given that way. A final model
that misses the project's goal is promoted only with a recorded waiver (the
`goal_waiver` item: who, and `waive_goal`, why); the outcome then says
"promoted below goal".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from phases.settings import PhaseSettings, check_project, resolve
from workflow.errors import ConfigError, Refused
from workflow.facts import Facts, read_facts
from workflow.gates import check_gate, load_checklist
from workflow.machine import MACHINE, GraphError, next_step, require, take
from workflow.progress import Progress, QuietProgress
from workflow.project import ProjectConfig, load_project
from workflow.signoff import sign_item
from workflow.store import STATE_FILE, Store, runs_root

__all__ = ["RunOutcome", "reports_of", "run_project", "stop_state"]

# a strategy a command may ask for by name (a user's module:Class comes from the project)
STRATEGY_FLAGS = ("targeted", "iterative", "sweep")

SIGN_GATE = "finalization_complete"
SIGN_ITEM = "model_card_reviewed"
WAIVER_ITEM = "goal_waiver"
REPORTS = {
    "phase3": "phase3/diagnostic_report.md",
    "phase4": "phase4/optimization_results.md",
    "phase5": "phase5/finalization_report.md",
}


@dataclass(frozen=True)
class RunOutcome:
    """Where the walk left the project, and why it stopped there."""

    project: str
    state: str
    status: Literal["promoted", "stopped", "refused"]  # stopped: --until was reached
    reason: str
    run_dir: Path
    reports: dict[str, Path] = field(default_factory=dict)
    promoted: Path | None = None
    signed: tuple[str, ...] = ()  # what the run signed, in words (who, what, which hashes)
    below_goal: bool = False  # promoted with the goal missed, under a recorded waiver
    next: str = ""  # the command that moves the project on

    @property
    def word(self) -> str:
        """The outcome in a word or three: done, promoted below goal, stopped, refused."""
        if self.status == "promoted":
            return "promoted below goal" if self.below_goal else "done"
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "state": self.state,
            "status": self.status,
            "outcome": self.word,
            "reason": self.reason,
            "run_dir": str(self.run_dir),
            "reports": {k: str(v) for k, v in self.reports.items()},
            "promoted": str(self.promoted) if self.promoted else None,
            "below_goal": self.below_goal,
            "signed": list(self.signed),
            "next": self.next,
        }


def stop_state(until: str | None) -> str | None:
    """The state a `--until` value names (None: walk to the end); ConfigError if unknown.

    A state's name stops there; a phase ("phase4") or its action ("optimize") stops
    where its work ends (`optimized`): the words come from the phase graph.
    """
    if until is None:
        return None
    stops = MACHINE.stops()
    key = until.strip().lower()
    if key not in stops:
        raise ConfigError(f"--until {until!r} is not a phase; allowed: {', '.join(stops)}")
    return stops[key]


def reports_of(store: Store) -> dict[str, Path]:
    """The phase reports that exist in the run directory."""
    return {phase: store.run_dir / rel for phase, rel in REPORTS.items()
            if (store.run_dir / rel).is_file()}


def run_project(
    project_file: str | os.PathLike[str],
    *,
    runs: str | os.PathLike[str] | None = None,
    until: str | None = None,
    sign_off: str | None = None,
    waive_goal: str | None = None,
    who: str = "phasegate",
    workers: int | None = None,
    progress: Progress | None = None,
    settings: dict[str, Any] | None = None,
) -> RunOutcome:
    """Walk the project of `project_file` as far as its gates allow (see the module docstring).

    `settings`: phases.settings.resolve's overrides (probes, strategy, space, method,
    pruner, trials, top_k), each replacing the project file's; `workers` too.
    """
    stop = stop_state(until)
    config = load_project(project_file)
    check_project(config, source=str(project_file))  # bad input: nothing is created
    phase_settings = resolve(config, workers=workers, **(settings or {}))
    if waive_goal is not None and not waive_goal.strip():
        raise ConfigError("--waive-goal needs the reason the goal is waived, in words")
    store = _open_or_create(config, Path(project_file), runs, who)
    walk = _Walk(store, progress or QuietProgress(), who=who, settings=phase_settings,
                 sign_off=sign_off, waive_goal=waive_goal)
    with store.lock():
        try:
            return walk.go(stop)
        except Refused as refusal:
            return walk.outcome("refused", str(refusal))


def _open_or_create(
    config: ProjectConfig, project_file: Path, runs: str | os.PathLike[str] | None, who: str
) -> Store:
    folder = runs_root(runs) / config.name
    if not (folder / STATE_FILE).is_file():
        return Store.create(config, runs, start=MACHINE.start, project_dir=project_file.parent,
                            who=who)
    store = Store.open(config.name, runs)
    recorded = store.project.model_dump(mode="json")
    given = config.model_dump(mode="json")
    differ = sorted(k for k in set(recorded) | set(given) if recorded.get(k) != given.get(k))
    if differ:
        shown = "; ".join(f"{k}: {recorded.get(k)!r} there, {given.get(k)!r} in {project_file}"
                          for k in differ)
        raise ConfigError(
            f"{folder} holds project {config.name!r} with other settings ({shown}); rename the "
            f"project, use another --runs folder, or remove {folder} to start over"
        )
    return store


class _Walk:
    def __init__(
        self, store: Store, progress: Progress, *, who: str, settings: PhaseSettings,
        sign_off: str | None, waive_goal: str | None,
    ) -> None:
        self.store = store
        self.progress = progress
        self.who = who
        self.settings = settings
        self.workers = settings.workers
        self.sign_off = sign_off
        self.waive_goal = waive_goal
        self.signed: list[str] = []

    def outcome(self, status: Literal["promoted", "stopped", "refused"], reason: str) -> RunOutcome:
        promoted = self.store.run_dir / "promoted"
        state = self.store.load_state()
        waived = state.signoffs.get(SIGN_GATE, {}).get(WAIVER_ITEM)
        below = status == "promoted" and waived is not None
        if below and waived is not None:
            reason = (f"{reason}, below its goal: waived by {waived.by} at {waived.at} "
                      f"({waived.note})")
        return RunOutcome(
            project=self.store.name,
            state=state.state,
            status=status,
            reason=reason,
            run_dir=self.store.run_dir,
            reports=reports_of(self.store),
            promoted=promoted if (promoted / "manifest.json").is_file() else None,
            signed=tuple(self.signed),
            below_goal=below,
            next=next_step(self.store),
        )

    def go(self, stop: str | None) -> RunOutcome:
        last: tuple[Any, ...] | None = None
        while True:
            state = self.store.current
            # a step that changed neither the state nor the facts would loop forever
            mark = (self.store.load_state().model_dump(), self.store.facts)
            if mark == last:
                raise Refused(f"{self.store.name} is {state} and the last step changed nothing; "
                              f"see phasegate status {self.store.name}")
            last = mark
            if MACHINE.state(state).final:
                return self.outcome("promoted", f"{self.store.name} is {state}")
            if stop is not None and MACHINE.reached(state, stop, self.store.facts):
                return self.outcome("stopped", f"stopped at {state} (--until {stop})")
            if self._auto_move():
                continue
            action = MACHINE.state(state).action
            assert action is not None  # every state but a final one has one (checked)
            require(self.store, action)
            _ACTIONS[action](self)

    # -- the actions -------------------------------------------------------------------------

    def diagnose(self) -> None:
        """Phase 3: the baseline first (the walk may stop once it is trained), then diagnose."""
        if read_facts(self.store).baseline.completed is not True:
            self.train_baseline()
            if read_facts(self.store).baseline.completed is True:
                return  # the walk checks --until baseline before Phase 3 goes on
        self.run_diagnosis()

    def optimize(self) -> None:
        """Phase 4; back in diagnosed after a revert, Phase 3 diagnoses the new evidence first."""
        from phases.optimization.phase import optimize

        if self.store.project.trainer == "builtin":
            from workflow.trainer.export import start_fresh

            start_fresh()  # Phase 5 checks its export in a fresh process: its imports, meanwhile
        facts = read_facts(self.store)
        if self.store.current == "diagnosed" and _reverted_since_diagnosis(facts):
            reverts = facts.moves.count("revert")
            limit = self.store.project.iteration_limit
            if reverts >= limit:
                raise Refused(
                    f"Phase 4 of {self.store.name} was reverted {reverts} times (decision C: "
                    f"{facts.phase4.reason or 'no reason recorded'}), which is the iteration "
                    f"limit ({limit}); the project is back in diagnosed. Look at "
                    f"{REPORTS['phase4']}, change the baseline or the project, and run again"
                )
            self.progress.step("Phase 3", f"re-diagnose after decision C ({reverts} of {limit})")
            self.run_diagnosis()
            if self._auto_move():  # the new diagnosis may skip Phase 4
                return
            facts = read_facts(self.store)
        running = facts.phase4.strategy if self.store.current == "optimizing" else None
        # a strategy asked for by a flag enters Phase 4 with it; a running one resumes as it is
        asked = self.settings.strategy
        requested = asked if asked in STRATEGY_FLAGS and running is None else "auto"
        shown = running or (requested if requested != "auto" else None) or \
            facts.phase3.strategy or "auto"
        if self.settings.sweep_flags and running is None:
            from phases.optimization.phase import resolve_strategy

            chosen = resolve_strategy(self.store, requested)
            if chosen != "sweep":  # flags that ask for a sweep are never silently unused
                flags = self.settings.sweep_flags
                verb = "applies" if len(flags) == 1 else "apply"
                raise ConfigError(
                    f"{', '.join(flags)} {verb} to a sweep, but Phase 4 of {self.store.name} "
                    f"runs {chosen}; add --strategy sweep to search instead"
                )
        self.progress.step("Phase 4", f"optimize ({shown})")
        # Phase 4 notes its decisions and moves itself, through the progress it is given
        optimize(self.store, requested, who=self.who, workers=self.workers,
                 progress=self.progress, sweep_settings=dict(self.settings.sweep),
                 space=self.settings.space)

    def finalize(self) -> None:
        from phases.finalization.phase import run_finalize

        result = run_finalize(self.store, progress=self.progress, who=self.who,
                              workers=self.workers)
        test, mcnemar = result.test, read_facts(self.store).phase5.mcnemar
        if test is None:
            return
        if (test.final_accuracy is not None and test.baseline_accuracy is not None
                and mcnemar is not None):
            self.progress.note(
                f"test accuracy {100 * test.final_accuracy:.2f}% (final) vs "
                f"{100 * test.baseline_accuracy:.2f}% (baseline), McNemar p = "
                f"{mcnemar.p_value:.4g}")
        else:
            from phases.finalization.phase import summarize_test

            self.progress.note(summarize_test(test.model_dump(mode="json")))

    def promote(self) -> None:
        from phases.finalization.promotion import promote

        name = self.store.name
        report = self.store.run_dir / REPORTS["phase5"]
        items = {i.id: i for i in check_gate(self.store, SIGN_GATE).items}
        card, waiver = items.get(SIGN_ITEM), items.get(WAIVER_ITEM)
        sign = card is not None and not card.ok  # not signed, or void since (the card changed)
        waive = waiver is not None and not waiver.ok  # the final model misses the goal
        missing = []
        if sign and not self.sign_off:
            missing.append(
                f"a person to read the model card in {report} and sign it (run again with "
                f"--sign-off NAME, or phasegate gate sign {name} {SIGN_GATE} {SIGN_ITEM} "
                f"--by NAME)")
        if waive and self.waive_goal is None:
            missing.append(
                f"a recorded waiver, since the final model misses the project's goal "
                f"({self._goal_text()}): run again with --waive-goal REASON, or phasegate gate "
                f"sign {name} {SIGN_GATE} {WAIVER_ITEM} --by NAME --note REASON")
        if missing:
            raise Refused(f"{name} is finalized; promotion waits for " + "; and for ".join(missing)
                          + f"; then phasegate promote {name}")
        if sign and self.sign_off:
            self._sign(SIGN_ITEM, self.sign_off,
                       f"signed through phasegate run --sign-off; model card: {report}")
        if waive and self.waive_goal is not None:
            self._sign(WAIVER_ITEM, self.sign_off or self.who, self.waive_goal)
        self.progress.step("Promotion", "check the gates and promote")
        promotion = promote(self.store, who=self.who, why="phasegate run")
        self.progress.note(f"promoted into {promotion.folder}")

    def _sign(self, item: str, who: str, note: str) -> None:
        checklist = load_checklist(SIGN_GATE, self.store.project_dir)
        signed = sign_item(self.store, checklist, SIGN_GATE, item, who=who, note=note)
        self.signed.append(signed.describe())
        self.progress.note(f"signed: {signed.describe()}")

    def _goal_text(self) -> str:
        facts = read_facts(self.store)
        project = self.store.project
        metric = project.target.measure
        summary = facts.phase5.final.summary(metric.name) if facts.phase5.final else None
        mean = summary.mean if summary is not None else None
        goal = project.target.goal
        return (f"mean {metric.name} of the final seeds {metric.format(mean)}, goal "
                f"{metric.format(goal)}")

    # -- Phase 3's two steps -----------------------------------------------------------------

    def train_baseline(self) -> None:
        from phases.diagnostic.phase import run_baseline
        from workflow.own_config import load_config

        project = self.store.project
        name = load_config(project.baseline, project.trainer).name
        self.progress.step("Phase 3", f"baseline: train {name} on seeds "
                                      f"{', '.join(map(str, project.seeds))}")
        run_baseline(self.store, workers=self.workers, progress=self.progress, who=self.who)

    def run_diagnosis(self) -> None:
        from phases.diagnostic.phase import run_diagnose

        probes = list(self.settings.probes)
        self.progress.step("Phase 3", "diagnose the baseline" +
                           (f" (probes: {', '.join(probes)})" if probes else ""))
        diagnosis, _ = run_diagnose(self.store, probes=probes, who=self.who)
        plan = diagnosis.plan
        self.progress.note(f"{len(diagnosis.findings)} findings; strategy {plan.strategy} "
                           f"({plan.strategy_reason}); potential {plan.potential:.1f} points")

    # -- helpers -----------------------------------------------------------------------------

    def _auto_move(self) -> bool:
        """Take the move the graph takes by itself when the facts select it (skip)."""
        move = MACHINE.auto_move(self.store.current, self.store.facts)
        if move is None:
            return False
        self.progress.step("Phase 3" if move.name == "skip" else "run",
                           f"{move.name}: {move.source} -> {move.target}")
        take(self.store, move.name, self.who, f"phasegate run: the facts select {move.name}")
        return True


# what the walk runs for each action of the phase graph: checked against the graph at import
_ACTIONS: dict[str, Callable[[_Walk], None]] = {
    "diagnose": _Walk.diagnose, "optimize": _Walk.optimize,
    "finalize": _Walk.finalize, "promote": _Walk.promote,
}
if set(_ACTIONS) != set(MACHINE.actions):
    raise GraphError(f"phasegate run runs the actions {sorted(_ACTIONS)}, but the phase graph "
                     f"has {sorted(MACHINE.actions)}")


def _reverted_since_diagnosis(facts: Facts) -> bool:
    """The last move into `diagnosed` was a revert, and Phase 3 has not diagnosed since.

    Phase 3's `completed_at` has whole seconds: a diagnosis in the very second of the
    revert counts as not since, so at worst the baseline is diagnosed once more.
    """
    entry = facts.moves.entry("diagnosed")
    if entry is None or entry.transition != "revert":
        return False
    diagnosed = facts.phase3.completed_at
    return diagnosed is None or datetime.fromisoformat(diagnosed) <= datetime.fromisoformat(
        entry.at)
