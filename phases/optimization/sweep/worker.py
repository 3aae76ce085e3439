"""A sweep worker: ask the study for a trial, train it, tell the result, until the budget is spent.

Every worker, local process or `phasegate sweep worker` on another host, runs
`work`. A trial trains the base config with the trial's parameters applied,
reports the monitored metric to Optuna after each epoch, and stops as `pruned`
when the pruner says so. A trial that fails (its config is invalid, the run
diverges, or the trainer raises) is told FAIL with its reason in the trial's
user attributes, and the worker goes on to the next one; a traceback goes to
`trial-<n>/trial.log`, never to the terminal.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep import study as st
from phases.optimization.sweep.artifacts import TRIALS_CSV, write_trials_csv
from phases.optimization.sweep.records import TrialRecord, trial_records
from phases.optimization.sweep.recovery import HEARTBEAT_S, recover_interrupted, worker_identity
from phases.optimization.sweep.storage import open_storage
from phases.optimization.sweep.trust import LocalRun, trusted_run
from workflow.errors import ConfigError, PluginError, WorkflowError
from workflow.io import atomic_write_json, atomic_write_text
from workflow.progress import Progress

if TYPE_CHECKING:
    import optuna

    from phases.optimization.sweep.space import SearchSpace
    from workflow.own_config import RunConfig
    from workflow.trainer import Trainer

__all__ = ["WorkerSummary", "TRIAL_LOG", "TRIAL_FILE", "pool_worker", "trial_dir", "work"]

TRIAL_LOG = "trial.log"
TRIAL_FILE = "trial.json"


def trial_dir(root: Path, number: int) -> Path:
    return root / f"trial-{number}"


@dataclass(frozen=True)
class WorkerSummary:
    trials_run: int
    stop_reason: str


def work(
    storage_url: str,
    study_name: str,
    *,
    worker_index: int | None = None,
    max_trials: int | None = None,
    trial_root: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    local: LocalRun | None = None,
) -> WorkerSummary:
    """Run trials of the study until its budget is spent (or `max_trials` by this worker).

    `worker_index` seeds this worker's sampler (seed + index); None, for a worker
    joining from elsewhere, derives a seed from the process id. `progress` hears of
    each trial this worker ran (`trial`, and a `note` with the reason of a failure).
    `local`: the trainer and base config given on this host; the study's database
    gives only trial parameters (see `trust`: a study that differs is refused).
    """
    from workflow.trainer import resolve_trainer

    storage = open_storage(storage_url, create=False)
    study = st.load_study(storage, study_name)
    spec = st.read_spec(study)
    source = f"study {study_name}"
    trusted = trusted_run(spec, study_name, local, spawned_here=worker_index is not None)
    base = trusted.base
    space = spec.search_space(source)
    index = worker_index if worker_index is not None else 1000 + os.getpid() % 100_000
    study = st.load_study(
        storage,
        study_name,
        sampler=st.make_sampler(spec, spec.seed + index),
        pruner=st.make_pruner(spec, None if st.pruning_off(spec.pruner, base)
                              else base.training.epochs),
    )
    trainer = resolve_trainer(trusted.trainer)
    if trial_root is not None:
        root = Path(trial_root)
        root.mkdir(parents=True, exist_ok=True)
    else:
        # the folder the study names is a path chosen by whoever wrote the database: used
        # only where it already is a folder on this host (a shared disk), never created
        root = Path(spec.trial_root)
        if not root.is_dir():
            raise ConfigError(
                f"{source}: its trial folder {str(root)!r} is not a folder on this host; "
                "give one with --out DIR"
            )
    done = 0
    while True:
        if max_trials is not None and done >= max_trials:
            return WorkerSummary(done, f"this worker ran its {max_trials} trials")
        recover_interrupted(study)
        budget = st.Budget(spec.max_trials, spec.max_epochs, st.read_deadline(study))
        reason = st.budget_spent(study.get_trials(deepcopy=False), budget)
        if reason is not None:
            return WorkerSummary(done, reason)
        trial = study.ask()
        trial.set_user_attr(st.WORKER, worker_identity())
        trial.set_user_attr(st.HEARTBEAT, time.time())
        if st.over_budget(study.get_trials(deepcopy=False), trial.number, budget):
            trial.set_user_attr(st.OUTCOME, "skipped")
            trial.set_user_attr(st.REASON, "the trial budget was spent by other workers")
            study.tell(trial, state=_state("FAIL"))
            continue
        run_trial(study, trial, spec=spec, space=space, base=base, trainer=trainer, root=root)
        done += 1
        records = trial_records(study.get_trials(deepcopy=False), space)
        try:  # a live view for whoever watches the folder; the coordinator writes the final one
            write_trials_csv(records, space.names, root / TRIALS_CSV)
        except OSError:
            pass
        if progress is not None:
            _tell(progress, next(r for r in records if r.number == trial.number))


def _tell(progress: Progress, record: TrialRecord) -> None:
    progress.trial(record.number, record.state, record.value)
    if record.state in ("failed", "diverged") and record.reason:
        progress.note(f"trial {record.number}: {record.reason}")


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


def run_trial(
    study: optuna.Study,
    trial: optuna.Trial,
    *,
    spec: st.SweepSpec,
    space: SearchSpace,
    base: RunConfig,
    trainer: Trainer,
    root: Path,
) -> None:
    """Train one trial and tell the study how it ended; never raises for the trial's own faults."""
    from workflow.own_config import fit_argument
    from workflow.trainer.result import RunResult, RunStatus

    folder = trial_dir(root, trial.number)
    started = time.time()
    changes = space.suggest(trial)
    trial.set_user_attr(st.CHANGES, changes)
    metric = spec.metric
    monitor = metric.name
    seen: dict[str, Any] = {"epoch": 0, "value": None, "best": None}

    def finish(state: str, outcome: str, reason: str | None, value: float | None = None) -> None:
        trial.set_user_attr(st.OUTCOME, outcome)
        trial.set_user_attr(st.EPOCHS, int(seen["epoch"]))
        trial.set_user_attr("best_value", seen["best"])
        trial.set_user_attr("time_s", round(time.time() - started, 3))
        if reason:
            trial.set_user_attr(st.REASON, reason)
        if state == "COMPLETE":
            study.tell(trial, value)
        else:
            study.tell(trial, state=_state(state))
        record = {
            "number": trial.number,
            "state": outcome,
            "value": value,
            "best_value": seen["best"],
            "epochs_run": seen["epoch"],
            "changes": changes,
            "reason": reason,
        }
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / TRIAL_FILE, record)

    try:
        config = base.with_changes(changes, source=f"trial {trial.number}")
    except ConfigError as exc:
        finish("FAIL", "invalid_config", f"invalid config: {exc}")
        return

    def report(epoch: int, row: dict[str, float]) -> None:
        seen["epoch"] = epoch
        value = row.get(monitor)
        if value is None or not math.isfinite(value):
            return
        seen["value"] = value
        best = seen["best"]
        if best is None or metric.better(value, best):
            seen["best"] = value
        trial.report(value, epoch)
        trial.set_user_attr(st.EPOCHS, epoch)

    def should_stop() -> str | None:
        if seen["value"] is None or not trial.should_prune():
            return None
        return (
            f"pruned by the {spec.pruner} pruner at epoch {seen['epoch']} "
            f"({monitor} {seen['value']:.4g})"
        )

    with _Heartbeat(study, trial):
        try:
            result = trainer(
                fit_argument(config), spec.train_seed, folder, report=report,
                should_stop=should_stop
            )
            if not isinstance(result, RunResult):
                raise PluginError(
                    f"trainer {spec.trainer!r} returned {type(result).__name__}, not a RunResult"
                )
        except Exception as exc:
            shutil.rmtree(folder.parent / f".{folder.name}.partial", ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / TRIAL_LOG, traceback.format_exc())
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            finish("FAIL", "error", f"{reason} (traceback in {folder.name}/{TRIAL_LOG})")
            return

    seen["epoch"] = int(result.extra.get("epochs_run", len(result.history)))
    if result.status is RunStatus.PRUNED:
        finish("PRUNED", "pruned", result.stop_reason)
    elif result.status is RunStatus.DIVERGED:
        finish("FAIL", "diverged", f"diverged: {result.stop_reason}")
    else:
        value = result.best.get(monitor)
        if value is None or not math.isfinite(value):
            finish("FAIL", "no_value", f"the run gave no finite {monitor}")
        else:
            seen["best"] = value
            finish("COMPLETE", result.status.value, result.stop_reason, float(value))


class _Heartbeat:
    """Refreshes the trial's heartbeat while it trains, so other workers see it is alive."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial):
        self.storage = study._storage
        self.trial_id = trial._trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.storage.set_trial_user_attr(self.trial_id, st.HEARTBEAT, time.time())
            except Exception:  # the trial ended, or the storage is briefly unreachable
                return

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def pool_worker(storage_url: str, study_name: str, worker_index: int, log_path: str
                ) -> tuple[int, str]:
    """A local worker's task in the command's pool (workflow.pool): run trials until the
    budget is spent, its output in `log_path` (the worker's own output is given back after:
    the worker goes on to serve other tasks). Returns (0, its last line), or the exit code
    of its error and the line that says why (its traceback in the log)."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        try:
            summary = work(storage_url, study_name, worker_index=worker_index)
            code, line = 0, (f"worker {worker_index}: {summary.trials_run} trials; "
                             f"{summary.stop_reason}")
        except WorkflowError as exc:
            code, line = exc.exit_code, f"phasegate: {exc}"
        except Exception as exc:  # noqa: BLE001 - the command reports it, the log keeps it
            traceback.print_exc()
            code, line = 1, f"{type(exc).__name__}: {exc}"
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sys.stdout, sys.stderr = streams
        print(line, file=log, flush=True)
    return code, line
