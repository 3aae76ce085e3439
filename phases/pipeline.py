"""`phasegate run`: walk a project from its baseline to promoted, stopping where a gate says no.

`run_project` creates the project's run directory from its file (or reuses
the one already there, when it holds the same project), then moves it along the
phase graph, one state at a time, with the phases' own functions:

- `baseline`: train the baseline on every seed (Phase 3), then diagnose it
- `diagnosed`: when Phase 3 chose skip, take `skip`; else run Phase 4 (`optimize`,
  with the strategy Phase 3 chose, which is the project's own when it names one);
  after a revert (decision C), re-diagnose first
- `optimizing`: resume Phase 4 (a run killed mid-attempt)
- `optimized`: Phase 5 (`run_finalize`)
- `finalized`: sign `model_card_reviewed` when `sign_off` names a person, then promote

The walk is driven by the state on disk, and every step resumes its own work,
so a run killed anywhere and started again goes on where it was. It holds the
project's lock from start to end: one `Store` object is passed to every phase.

It stops early with a `Refused` outcome (the CLI exits 1) when a gate fails,
when Phase 4 has been reverted (decision C) as many times as the project's
iteration limit, when Phase 4 has nothing left to try, or when the model card
waits for a person's sign-off. The manual item is never signed silently: an
unattended run reaches `promoted` only when it is told who signs
(`sign_off`, the CLI's `--sign-off NAME`), and the sign-off records that it was
given that way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from workflow.errors import ConfigError, Refused
from workflow.machine import MACHINE, take
from workflow.project import ProjectConfig, load_project
from workflow.store import STATE_FILE, Store, runs_root

if TYPE_CHECKING:
    from phases.finalization.phase import Finalization

__all__ = [
    "STOPS",
    "RunOutcome",
    "RunProgress",
    "QuietRunProgress",
    "finalize",
    "reports_of",
    "run_project",
    "stop_state",
]

# where --until may stop the walk: a state, or the phase that ends in it
STOPS: dict[str, str] = {
    "baseline": "baseline",
    "diagnosed": "diagnosed", "phase3": "diagnosed", "diagnose": "diagnosed",
    "optimized": "optimized", "phase4": "optimized", "optimize": "optimized",
    "finalized": "finalized", "phase5": "finalized", "finalize": "finalized",
    "promoted": "promoted", "promote": "promoted",
}
_ORDER = ("baseline", "diagnosed", "optimizing", "optimized", "finalized", "promoted")
SIGN_GATE = "finalization_complete"
SIGN_ITEM = "model_card_reviewed"
REPORTS = {
    "phase3": "phase3/diagnostic_report.md",
    "phase4": "phase4/optimization_results.md",
    "phase5": "phase5/finalization_report.md",
}


class RunProgress(Protocol):
    """What the walk tells a display: the phase and step, each training's epochs, notes."""

    def step(self, phase: str, text: str) -> None: ...

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        """A training of `seeds` starts (`done` were finished by an earlier run)."""

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None: ...

    def seed_done(self, seed: int, status: str, epochs: int) -> None: ...

    def end_training(self) -> None: ...

    def note(self, text: str) -> None: ...


class QuietRunProgress:
    """Shows nothing (the library default)."""

    def step(self, phase: str, text: str) -> None:
        pass

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        pass

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        pass

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        pass

    def end_training(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "state": self.state,
            "status": self.status,
            "reason": self.reason,
            "run_dir": str(self.run_dir),
            "reports": {k: str(v) for k, v in self.reports.items()},
            "promoted": str(self.promoted) if self.promoted else None,
        }


def stop_state(until: str | None) -> str | None:
    """The state a `--until` value names (None: walk to the end); ConfigError if unknown."""
    if until is None:
        return None
    key = until.strip().lower()
    if key not in STOPS:
        raise ConfigError(f"--until {until!r} is not a phase; allowed: {', '.join(STOPS)}")
    return STOPS[key]


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
    who: str = "phasegate",
    workers: int | None = None,
    progress: RunProgress | None = None,
) -> RunOutcome:
    """Walk the project of `project_file` as far as its gates allow (see the module docstring)."""
    stop = stop_state(until)
    shown = progress or QuietRunProgress()
    config = load_project(project_file)
    store = _open_or_create(config, Path(project_file), runs, who)
    walk = _Walk(store, shown, who=who, workers=workers, sign_off=sign_off)
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
        self, store: Store, progress: RunProgress, *, who: str, workers: int | None,
        sign_off: str | None,
    ) -> None:
        self.store = store
        self.progress = progress
        self.who = who
        self.workers = workers
        self.sign_off = sign_off

    def outcome(self, status: Literal["promoted", "stopped", "refused"], reason: str) -> RunOutcome:
        promoted = self.store.run_dir / "promoted"
        return RunOutcome(
            project=self.store.name,
            state=self.store.current,
            status=status,
            reason=reason,
            run_dir=self.store.run_dir,
            reports=reports_of(self.store),
            promoted=promoted if (promoted / "manifest.json").is_file() else None,
        )

    def go(self, stop: str | None) -> RunOutcome:
        last: tuple[str, int] | None = None
        while True:
            state = self.store.current
            mark = (state, len(self.store.events()))
            if mark == last:  # a step that neither moved nor logged anything would loop forever
                raise Refused(f"{self.store.name} is {state} and the last step changed nothing; "
                              f"see phasegate status {self.store.name}")
            last = mark
            if state == "promoted":
                return self.outcome("promoted", f"{self.store.name} is promoted")
            if stop is not None and self._reached(stop, state):
                return self.outcome("stopped", f"stopped at {state} (--until {stop})")
            if state == "baseline":
                self.baseline()
                if stop != "baseline":
                    self.diagnose()
            elif state == "diagnosed":
                self.diagnosed()
            elif state == "optimizing":
                self.optimize()
            elif state == "optimized":
                self.finalize()
            elif state == "finalized":
                self.promote()

    # -- the steps ---------------------------------------------------------------------------

    def baseline(self) -> None:
        from phases.diagnostic.phase import run_baseline
        from workflow.runner import finished_run, seed_dir
        from workflow.trainer.config import load_train_config

        if self.store.get("baseline.completed", False) is True:
            return
        project = self.store.project
        config = load_train_config(project.baseline)
        root = self.store.run_dir / "baseline"
        done = [s for s in project.seeds if finished_run(seed_dir(root, s), config) is not None]
        self.progress.step("Phase 3", f"baseline: train {config.name} on seeds "
                                      f"{', '.join(map(str, project.seeds))}")
        self.progress.training("baseline", project.seeds, done, config.training.epochs)
        try:
            run_baseline(self.store, workers=self.workers, on_epoch=self.progress.epoch,
                         on_done=self._seed_done, who=self.who)
        finally:
            self.progress.end_training()

    def diagnose(self) -> None:
        from phases.diagnostic.phase import run_diagnose

        self.progress.step("Phase 3", "diagnose the baseline")
        diagnosis, _ = run_diagnose(self.store, who=self.who)
        plan = diagnosis.plan
        self.progress.note(f"{len(diagnosis.findings)} findings; strategy {plan.strategy} "
                           f"({plan.strategy_reason}); potential {plan.potential:.1f} points")

    def diagnosed(self) -> None:
        if self._reverted_since_diagnosis():
            reverts = self._count("revert")
            limit = self.store.project.iteration_limit
            reason = self.store.get("phase4.reason", "no reason recorded")
            if reverts >= limit:
                raise Refused(
                    f"Phase 4 of {self.store.name} was reverted {reverts} times (decision C: "
                    f"{reason}), which is the iteration limit ({limit}); the project is back in "
                    f"diagnosed. Look at {REPORTS['phase4']}, change the baseline or the "
                    "project, and run again"
                )
            self.progress.step("Phase 3", f"re-diagnose after decision C ({reverts} of {limit})")
            self.diagnose()
        if self.store.get("phase3.strategy", None) == "skip":
            self.progress.step("Phase 3", "skip Phase 4 (Phase 3's potential is under 3 points)")
            take(self.store, "skip", self.who, "phasegate run: Phase 3 chose skip")
            return
        self.optimize()

    def optimize(self) -> None:
        from phases.optimization.phase import optimize

        strategy = self.store.get("phase4.strategy", None) if self.store.current == \
            "optimizing" else self.store.get("phase3.strategy", None)
        self.progress.step("Phase 4", f"optimize ({strategy or 'auto'})")
        # Phase 4 notes its decisions and moves itself, through the progress it is given
        optimize(self.store, "auto", who=self.who, workers=self.workers,
                 progress=_Phase4Progress(self.progress))

    def finalize(self) -> None:
        self.progress.step("Phase 5", "finalize")
        result = finalize(self.store, progress=self.progress, who=self.who, workers=self.workers)
        test = result.test
        if test:
            self.progress.note(
                f"test accuracy {100 * test['final_accuracy']:.2f}% (final) vs "
                f"{100 * test['baseline_accuracy']:.2f}% (baseline), McNemar p = "
                f"{self.store.get('phase5.mcnemar.p_value', float('nan')):.4g}")

    def promote(self) -> None:
        from phases.finalization.promotion import promote

        state = self.store.load_state()
        if SIGN_ITEM not in state.signoffs.get(SIGN_GATE, {}):
            report = self.store.run_dir / REPORTS["phase5"]
            if not self.sign_off:
                raise Refused(
                    f"{self.store.name} is finalized; promotion waits for a person to read the "
                    f"model card in {report} and sign it: phasegate gate sign {SIGN_GATE} "
                    f"{SIGN_ITEM} --project {self.store.name} --by NAME, then phasegate "
                    f"promote {self.store.name} (or run again with --sign-off NAME)"
                )
            self.store.sign(SIGN_GATE, SIGN_ITEM, who=self.sign_off,
                            note=f"signed through phasegate run --sign-off; model card: {report}")
            self.progress.note(f"{SIGN_GATE}/{SIGN_ITEM} signed by {self.sign_off}")
        self.progress.step("Promotion", "check the gates and promote")
        promotion = promote(self.store, who=self.who, why="phasegate run")
        self.progress.note(f"promoted into {promotion.folder}")

    # -- helpers -----------------------------------------------------------------------------

    def _reached(self, stop: str, state: str) -> bool:
        if stop == "baseline":  # the baseline is trained, whatever came after it
            return state != "baseline" or self.store.get("baseline.completed", False) is True
        return _ORDER.index(state) >= _ORDER.index(stop)

    def _seed_done(self, result: Any) -> None:
        _seed_done(self.progress, result)

    def _count(self, transition: str) -> int:
        return sum(1 for e in self.store.events()
                   if e.get("event") == "transition" and e.get("transition") == transition)

    def _reverted_since_diagnosis(self) -> bool:
        """The last move into `diagnosed` was a revert, and Phase 3 has not run since."""
        for event in reversed(self.store.events()):
            if event.get("event") == "rediagnosed":
                return False
            if event.get("event") == "transition" and event.get("to") == "diagnosed":
                return event.get("transition") == "revert"
        return False


def _seed_done(progress: RunProgress, result: Any) -> None:
    epochs = result.extra.get("epochs_run", 0) if isinstance(result.extra, dict) else 0
    progress.seed_done(result.seed, result.status.value, int(epochs))


def finalize(
    store: Store, *, progress: RunProgress | None = None, who: str = "phasegate",
    workers: int | None = None,
) -> Finalization:
    """`run_finalize` with its steps and its final training shown on `progress`."""
    from phases.finalization.phase import run_finalize

    shown = progress or QuietRunProgress()
    steps = _Phase5Steps(store, shown)
    try:
        return run_finalize(store, who=who, workers=workers, on_step=steps.step,
                            on_epoch=shown.epoch, on_done=lambda r: _seed_done(shown, r))
    finally:
        steps.end()


class _Phase4Progress:
    """Phase 4's progress protocol, shown through the walk's display."""

    def __init__(self, progress: RunProgress) -> None:
        self.progress = progress

    def attempt(self, plan: Any, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        self.progress.step("Phase 4", f"attempt {plan.attempt} ({plan.strategy}): train "
                                      f"{len(seeds)} seeds")
        self.progress.training(f"attempt {plan.attempt}", seeds, done, epochs)

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        self.progress.epoch(seed, epoch, row)

    def end_attempt(self) -> None:
        self.progress.end_training()

    def note(self, text: str) -> None:
        self.progress.note(text)


class _Phase5Steps:
    """Phase 5's steps, with a training display around the ones that train."""

    def __init__(self, store: Store, progress: RunProgress) -> None:
        self.store = store
        self.progress = progress
        self.training = False

    def step(self, text: str) -> None:
        self.end()
        self.progress.step("Phase 5", text)
        if text == "final training":
            from phases.finalization.training import FINAL_DIR, chosen_config
            from workflow.runner import finished_run, seed_dir

            config = chosen_config(self.store).config
            seeds = self.store.project.seeds
            root = self.store.run_dir / FINAL_DIR
            done = [s for s in seeds if finished_run(seed_dir(root, s), config) is not None]
            self.progress.training("final", seeds, done, config.training.epochs)
            self.training = True

    def end(self) -> None:
        if self.training:
            self.progress.end_training()
            self.training = False
