"""Run a sweep end to end: the study, its local workers, the artifacts, the winner's curse.

`run_sweep` is what `phasegate optimize --strategy sweep` calls. Rerunning it on
the same folder continues the same study: finished trials are kept, a trial
that was running when the sweep was killed is retried, and the budget counts
what was done before. `workers` local processes take trials from the study at
the same time, as tasks of the command's pool of workers (`workflow.pool`, which
serves the arms' seeds and the re-runs too); workers on other hosts may join the study
as well (see `worker`). Then the
top k trials are re-run on the project's fresh seeds (`rerun`) and the one with
the best re-run mean is chosen.

The pool's workers die with the coordinator (`workflow.lifeline`). Ctrl-C
ends them, fails their trials as interrupted (retried with the same
parameters by the rerun) and removes their `.trial-<n>.partial` folders; a
rerun removes those a killed sweep left.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from phases.optimization.sweep import artifacts
from phases.optimization.sweep import study as st
from phases.optimization.sweep.records import SweepResult, TrialRecord, trial_records
from phases.optimization.sweep.recovery import recover_interrupted, remove_partials
from phases.optimization.sweep.rerun import choose, rerun_top, top_trials
from phases.optimization.sweep.space import SearchSpace
from phases.optimization.sweep.storage import JOURNAL_FILE, describe_storage, open_storage
from phases.optimization.sweep.worker import pool_worker, work
from workflow.errors import ConfigError, LockHeld, WorkFailed
from workflow.metric import Metric
from workflow.progress import Progress, QuietProgress

if TYPE_CHECKING:
    import optuna

    from workflow.own_config import RunConfig

__all__ = ["run_sweep", "prepare_study", "LOCK_FILE"]

LOCK_FILE = ".sweep.lock"
MAX_ROUNDS = 3
POLL_S = 1.0


def run_sweep(
    base: RunConfig,
    space: SearchSpace,
    sweep_dir: str | os.PathLike[str],
    *,
    settings: st.SweepSettings | None = None,
    fresh_seeds: Sequence[int] = (100, 101, 102, 103, 104),
    baseline_values: Sequence[float] | None = None,
    trainer: str = "builtin",
    alpha: float = 0.05,
    min_effect: float = 0.0,
    project_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Search `space` around `base`, re-run the top trials on `fresh_seeds`, choose one.

    `baseline_values`: the baseline's per-seed values of the monitored metric;
    without them the candidates are re-run but not compared. `workers`: how many
    local worker processes take trials from the study at once (default
    `settings.workers`), and how many train the re-runs' seeds (default: the
    runner's). `progress` hears of each finished trial (`trial`) and of the
    re-runs (`step`, the trainings, `note`).
    Raises ConfigError for a bad space, setting or storage, ExtensionError for a
    user's sampler or pruner that does not fit, LockHeld when another sweep runs
    in `sweep_dir`, WorkFailed when every worker failed. With a database URL
    shared by several projects, give each sweep its own `settings.study_name`.
    """
    from workflow.trainer import resolve_trainer

    settings = settings or st.SweepSettings()
    if workers is not None and workers < 1:
        raise ConfigError(f"sweep workers must be at least 1, but got {workers=}")
    processes = workers if workers is not None else settings.workers
    watch = _TrialWatch(settings.study_name, space, progress)
    progress = progress or QuietProgress()
    resolve_trainer(trainer)  # a bad plug-in fails here, with its message, before any trial
    if (off := st.pruning_off(settings.pruner, base)) is not None:
        progress.step("sweep", off)
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()

    with _exclusive(sweep_dir):
        url, study, spec = prepare_study(base, space, sweep_dir, settings, trainer=trainer)
        metric = spec.metric
        local = "://" not in url
        recover_interrupted(study, orphans_stale=local)
        remove_partials(study, sweep_dir)

        notes: list[str] = []
        budget = st.Budget(spec.max_trials, settings.max_epochs, st.read_deadline(study))
        with watch.reading(url):
            try:
                for _ in range(MAX_ROUNDS):
                    _run_workers(url, settings.study_name, (processes, workers), trainer,
                                 sweep_dir, notes)
                    _wait_for_others(study)
                    if st.budget_spent(study.get_trials(deepcopy=False), budget) is not None:
                        break
            except KeyboardInterrupt:  # the workers are stopped: their trials and folders
                recover_interrupted(study, orphans_stale=local, ours=True)
                remove_partials(study, sweep_dir)
                raise
        remove_partials(study, sweep_dir)  # of trials recovered while the workers ran
        trials = study.get_trials(deepcopy=False)
        stop_reason = st.budget_spent(trials, budget) or (
            "workers stopped before the budget was spent (see workers/*.log)"
        )
        progress.note(f"sweep: {stop_reason}")
        records = trial_records(trials, space)
        art, importance = _write_search_artifacts(study, records, space, metric, sweep_dir, notes)

        best = top_trials(records, 1, metric)
        candidates = rerun_top(
            base,
            top_trials(records, settings.top_k, metric),
            sweep_dir / "rerun",
            metric=metric,
            fresh_seeds=_rerun_seeds(fresh_seeds, spec.train_seed, notes),
            baseline_values=baseline_values,
            trainer=trainer,
            workers=workers,
            alpha=alpha,
            min_effect=min_effect,
            progress=progress,
        )
        if baseline_values is None:
            notes.append("no baseline values were given: the re-runs are not compared")
        chosen = choose(candidates, metric)
        if chosen is not None:
            verdict = chosen.verdict.replace("_", " ")
            progress.note(f"sweep: trial {chosen.trial} chosen on its re-run ({verdict})")
        result = SweepResult(
            study_name=settings.study_name,
            storage=describe_storage(url),
            sweep_dir=sweep_dir,
            method=settings.method,
            pruner=settings.pruner,
            monitor=metric.name,
            direction=metric.direction,
            space=space.describe(),
            trials=records,
            stop_reason=stop_reason,
            total_epochs=st.epochs_spent(trials),
            wall_time_s=time.time() - started,
            best_trial=best[0] if best else None,
            candidates=candidates,
            chosen=chosen,
            importance=importance,
            artifacts=art,
            notes=notes,
        )
        best_config = artifacts.write_best_config(result, sweep_dir / artifacts.BEST_CONFIG)
        if best_config is not None:
            art["best_config"] = best_config
        art["summary"] = sweep_dir / artifacts.SUMMARY
        artifacts.write_summary(result, Path(project_dir) if project_dir else None)
        return result


def _rerun_seeds(fresh_seeds: Sequence[int], train_seed: int, notes: list[str]) -> list[int]:
    """The fresh seeds the top trials are re-run on: never the trials' own seed, where enough
    are left to compare. A top trial re-run on its own seed repeats its training exactly
    (work done twice), and that value is the one it was selected on: the choice would read
    the sweep's winner's curse back in."""
    from workflow.stats import MIN_SEEDS

    seeds = [s for s in fresh_seeds if s != train_seed]
    if len(seeds) == len(fresh_seeds):
        return seeds
    if len(seeds) < MIN_SEEDS:
        notes.append(f"the re-runs include seed {train_seed}, the trials' own seed: without "
                     f"it fewer than {MIN_SEEDS} fresh seeds are left")
        return list(fresh_seeds)
    notes.append(f"the re-runs skip seed {train_seed}: the trials trained on it, so the top "
                 "trials' runs on it are already done, and they were chosen on them")
    return seeds


def prepare_study(
    base: RunConfig,
    space: SearchSpace,
    sweep_dir: str | os.PathLike[str],
    settings: st.SweepSettings,
    *,
    trainer: str = "builtin",
) -> tuple[str, optuna.Study, st.SweepSpec]:
    """Create the sweep's study (or continue it) with everything a worker needs; no trial runs.

    Returns the storage URL, the study and its spec. `phasegate sweep worker`
    processes, here or on other hosts, can join the study from then on. A user's
    sampler or pruner (`module:Class`) is loaded and checked here, before the study
    exists (ExtensionError, exit 2, when it does not fit its Optuna base).
    """
    monitor = settings.monitor or base.training.monitor
    if trainer == "builtin":
        from workflow.trainer.config import MONITORS

        # a user's trainer may record any metric; the built-in one records only these
        if monitor not in MONITORS:
            raise ConfigError(
                f"sweep monitor: unknown metric {monitor!r} (allowed: {', '.join(MONITORS)})"
            )
    metric = Metric.named(monitor, settings.direction)
    st.check_extensions(settings)
    space.check_config(base)
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    url = settings.storage or str(sweep_dir / JOURNAL_FILE)
    storage = open_storage(url)
    if settings.method == "grid":
        grid_size = len(space.grid())
        max_trials = min(settings.trials or grid_size, grid_size)
    else:
        max_trials = settings.trials or st.DEFAULT_TRIALS
    spec = st.SweepSpec(
        base_config=base.to_yaml(),
        space=space.to_dict(),
        method=settings.method,
        pruner=settings.pruner,
        seed=settings.seed,
        train_seed=settings.seed if settings.train_seed is None else settings.train_seed,
        monitor=metric.name,
        direction=metric.direction,
        trainer=trainer,
        trial_root=str(sweep_dir),
        max_trials=max_trials,
        max_epochs=settings.max_epochs,
        startup_trials=settings.startup_trials,
    )
    study, _ = st.create_study(storage, settings.study_name, spec, space)
    st.set_deadline(study, settings.wall_time_s)
    return url, study, spec


def _write_search_artifacts(
    study: optuna.Study,
    records: list[TrialRecord],
    space: SearchSpace,
    metric: Metric,
    sweep_dir: Path,
    notes: list[str],
) -> tuple[dict[str, Path], dict[str, float]]:
    """trials.csv, importance.json and the plots; the paths written and the importances."""
    art = {
        "trials_csv": artifacts.write_trials_csv(
            records, space.names, sweep_dir / artifacts.TRIALS_CSV
        ),
        "importance": sweep_dir / artifacts.IMPORTANCE,
    }
    importance = artifacts.parameter_importance(study, art["importance"])
    values_plot = artifacts.plot_values(
        records, space, metric.name, sweep_dir / artifacts.VALUES_PLOT
    )
    if values_plot is not None:
        art["values_plot"] = values_plot
    heatmap = artifacts.plot_heatmap(
        records, space, importance, metric, sweep_dir / artifacts.HEATMAP_PLOT
    )
    if heatmap is not None:
        art["heatmap_plot"] = heatmap
    elif len(space.names) < 2:
        notes.append("no heatmap: the space has a single parameter")
    return art, importance


@contextmanager
def _exclusive(sweep_dir: Path) -> Iterator[None]:
    """One coordinator per sweep folder; the OS drops the lock when its process dies."""
    path = sweep_dir / LOCK_FILE
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockHeld(f"{sweep_dir}: another sweep is running here ({holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def _run_workers(
    url: str, study_name: str, sizes: tuple[int, int | None], trainer: str, sweep_dir: Path,
    notes: list[str],
) -> None:
    """Workers take trials from the study at the same time until its budget is spent: one
    here, or more as tasks of the command's pool, each logging to workers/worker-<i>.log.
    `sizes`: (the workers taking trials, the command's workers: the pool's size, as the
    arms' seeds use it, so the same warm pool serves both)."""
    processes, workers = sizes
    if processes == 1:
        import torch

        from workflow.pool import THREADS_PER_WORKER

        # as the runner's seeds in this process, and the pool's workers: one intra-op thread,
        # so a trial's result does not depend on whether an arm ran here before it
        torch.set_num_threads(THREADS_PER_WORKER)
        work(url, study_name, worker_index=0)
        return
    from workflow.pool import command_pool, discard
    from workflow.runner import default_workers

    pool = command_pool(max(processes, workers or default_workers()), trainer)
    logs = [sweep_dir / "workers" / f"worker-{i}.log" for i in range(processes)]
    tasks = [pool.submit(pool_worker, url, study_name, i, str(logs[i]))
             for i in range(processes)]
    try:
        outcomes = [task.result() for task in tasks]
    except BaseException:  # Ctrl-C, or a broken pool: its workers end now, their trials too
        discard(pool)
        raise
    failed = [(i, code, line) for i, (code, line) in enumerate(outcomes) if code != 0]
    for i, code, line in failed:
        notes.append(f"worker {i} exited with code {code}: {line}")
    if failed and len(failed) == len(tasks):
        raise WorkFailed(f"every sweep worker failed; {notes[-1]}")


def _wait_for_others(study: optuna.Study) -> None:
    """Workers on other hosts may still run trials: wait until each ends or goes stale."""
    from optuna.trial import TrialState

    while study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        recover_interrupted(study)
        time.sleep(POLL_S)


class _TrialWatch:
    """Tells `progress` of each newly finished trial, from a thread reading its own storage
    (the trials run in other processes, here or on other hosts); idle without `progress`."""

    def __init__(self, study_name: str, space: SearchSpace, progress: Progress | None):
        self.study_name, self.space, self.progress = study_name, space, progress
        self.seen: set[int] = set()

    @contextmanager
    def reading(self, url: str) -> Iterator[None]:
        if self.progress is None:
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(target=self._poll, args=(url, stop), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)

    def _poll(self, url: str, stop: threading.Event) -> None:
        assert self.progress is not None
        study = st.load_study(open_storage(url), self.study_name)
        while True:
            stopping = stop.wait(POLL_S)
            for record in trial_records(study.get_trials(deepcopy=False), self.space):
                if record.finished and record.number not in self.seen:
                    self.seen.add(record.number)
                    self.progress.trial(record.number, record.state, record.value)
            if stopping:
                return
