"""Run a sweep end to end: the study, its local workers, the artifacts, the winner's curse.

`run_sweep` is what `phasegate optimize --strategy sweep` calls. Rerunning it on
the same folder continues the same study: finished trials are kept, a trial
that was running when the sweep was killed is retried, and the budget counts
what was done before. Then the top k trials are re-run on the project's fresh
seeds (the best of many trials is biased upward), each is compared with the
baseline's per-seed values (Holm over the k), and the one with the best re-run
mean is chosen.
"""

from __future__ import annotations

import fcntl
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep import artifacts
from phases.optimization.sweep import study as st
from phases.optimization.sweep.records import Candidate, SweepResult, TrialRecord, trial_records
from phases.optimization.sweep.recovery import recover_interrupted
from phases.optimization.sweep.space import SearchSpace
from phases.optimization.sweep.storage import JOURNAL_FILE, describe_storage, open_storage
from phases.optimization.sweep.worker import work, worker_process
from workflow.errors import ConfigError, LockHeld, WorkflowError

if TYPE_CHECKING:
    import optuna

    from workflow.trainer.config import TrainConfig

__all__ = ["run_sweep", "prepare_study", "rerun_top", "LOCK_FILE"]

LOCK_FILE = ".sweep.lock"
MAX_ROUNDS = 3
POLL_S = 1.0


def run_sweep(
    base: TrainConfig,
    space: SearchSpace,
    sweep_dir: str | os.PathLike[str],
    *,
    settings: st.SweepSettings | None = None,
    fresh_seeds: Sequence[int] = (100, 101, 102, 103, 104),
    baseline_values: Sequence[float] | None = None,
    trainer: str = "builtin",
    alpha: float = 0.05,
    min_effect: float = 0.0,
    rerun_workers: int | None = None,
    project_dir: str | os.PathLike[str] | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> SweepResult:
    """Search `space` around `base`, re-run the top trials on `fresh_seeds`, choose one.

    `baseline_values`: the baseline's per-seed values of the monitored metric;
    without them the candidates are re-run but not compared. `on_trial` is
    called (in this process) as each trial finishes, for progress bars.
    Raises ConfigError for a bad space, setting or storage, LockHeld when
    another sweep runs in `sweep_dir`. With a database URL shared by several
    projects, give each sweep its own `settings.study_name`.
    """
    from workflow.trainer import resolve_trainer

    settings = settings or st.SweepSettings()
    resolve_trainer(trainer)  # a bad plug-in fails here, with its message, before any trial
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()

    with _exclusive(sweep_dir):
        url, study, spec = prepare_study(base, space, sweep_dir, settings, trainer=trainer)
        max_trials = spec.max_trials
        monitor, higher = spec.monitor, spec.direction == "maximize"
        recover_interrupted(study, orphans_stale="://" not in url)

        notes: list[str] = []
        budget = st.Budget(max_trials, settings.max_epochs, st.read_deadline(study))
        with _Progress(url, settings.study_name, space, on_trial):
            for _ in range(MAX_ROUNDS):
                _run_workers(url, settings, sweep_dir, notes)
                _wait_for_others(study)
                if st.budget_spent(study.get_trials(deepcopy=False), budget) is not None:
                    break
        trials = study.get_trials(deepcopy=False)
        stop_reason = st.budget_spent(trials, budget) or (
            "workers stopped before the budget was spent (see workers/*.log)"
        )
        records = trial_records(trials, space)
        art, importance = _write_search_artifacts(study, records, space, spec, sweep_dir, notes)

        complete = [r for r in records if r.state == "complete" and r.value is not None]
        best = _top(complete, 1, higher)
        candidates = rerun_top(
            base,
            _top(complete, settings.top_k, higher),
            sweep_dir / "rerun",
            monitor=monitor,
            fresh_seeds=fresh_seeds,
            baseline_values=baseline_values,
            trainer=trainer,
            workers=rerun_workers,
            alpha=alpha,
            min_effect=min_effect,
            seed=settings.seed,
        )
        if baseline_values is None:
            notes.append("no baseline values were given: the re-runs are not compared")
        chosen = _choose(candidates, higher)
        result = SweepResult(
            study_name=settings.study_name,
            storage=describe_storage(url),
            sweep_dir=sweep_dir,
            method=settings.method,
            pruner=settings.pruner,
            monitor=monitor,
            direction=spec.direction,
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


def prepare_study(
    base: TrainConfig,
    space: SearchSpace,
    sweep_dir: str | os.PathLike[str],
    settings: st.SweepSettings,
    *,
    trainer: str = "builtin",
) -> tuple[str, optuna.Study, st.SweepSpec]:
    """Create the sweep's study (or continue it) with everything a worker needs; no trial runs.

    Returns the storage URL, the study and its spec. `phasegate sweep worker`
    processes, here or on other hosts, can join the study from then on.
    """
    from workflow.trainer.config import MONITORS

    monitor = settings.monitor or base.training.monitor
    if monitor not in MONITORS:
        raise ConfigError(
            f"sweep monitor: unknown metric {monitor!r} (allowed: {', '.join(MONITORS)})"
        )
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
        monitor=monitor,
        direction="minimize" if monitor.endswith("_loss") else "maximize",
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
    spec: st.SweepSpec,
    sweep_dir: Path,
    notes: list[str],
) -> tuple[dict[str, Path], dict[str, float]]:
    """trials.csv, importance.json and the plots; the paths written and the importances."""
    monitor, higher = spec.monitor, spec.direction == "maximize"
    art = {
        "trials_csv": artifacts.write_trials_csv(
            records, space.names, sweep_dir / artifacts.TRIALS_CSV
        ),
        "importance": sweep_dir / artifacts.IMPORTANCE,
    }
    importance = artifacts.parameter_importance(study, art["importance"])
    values_plot = artifacts.plot_values(records, space, monitor, sweep_dir / artifacts.VALUES_PLOT)
    if values_plot is not None:
        art["values_plot"] = values_plot
    heatmap = artifacts.plot_heatmap(
        records, space, importance, monitor, higher, sweep_dir / artifacts.HEATMAP_PLOT
    )
    if heatmap is not None:
        art["heatmap_plot"] = heatmap
    elif len(space.names) < 2:
        notes.append("no heatmap: the space has a single parameter")
    return art, importance


def _choose(candidates: Sequence[Candidate], higher: bool) -> Candidate | None:
    """The best re-run mean (the re-runs are not the seeds the sweep selected on)."""
    best: Candidate | None = None
    for c in candidates:
        if c.summary is None:
            continue
        if best is None or best.summary is None or (
            c.summary.mean > best.summary.mean if higher else c.summary.mean < best.summary.mean
        ):
            best = c
    return best


def _top(records: Sequence[TrialRecord], k: int, higher: bool) -> list[TrialRecord]:
    """The k best completed trials, one per distinct configuration (a retried trial or a
    repeated grid point would otherwise take two places)."""
    ordered = sorted(
        records,
        key=lambda r: (-(r.value or 0.0) if higher else (r.value or 0.0), r.number),
    )
    seen: set[str] = set()
    top = []
    for record in ordered:
        key = repr(sorted((k, repr(v)) for k, v in record.params.items()))
        if key in seen:
            continue
        seen.add(key)
        top.append(record)
        if len(top) == k:
            break
    return top


def rerun_top(
    base: TrainConfig,
    top: Sequence[TrialRecord],
    root: Path,
    *,
    monitor: str,
    fresh_seeds: Sequence[int],
    baseline_values: Sequence[float] | None,
    trainer: str = "builtin",
    workers: int | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.0,
    seed: int = 0,
) -> list[Candidate]:
    """Train each of `top` on every fresh seed (resuming finished seeds) and compare each with
    the baseline, Holm-adjusted over the candidates."""
    from workflow.runner import train_seeds
    from workflow.stats import MIN_SEEDS, compare_many, summarize

    higher = not monitor.endswith("_loss")
    rows: list[dict[str, Any]] = []
    for rank, record in enumerate(top, start=1):
        config = base.with_changes(record.params, source=f"trial {record.number}")
        folder = root / f"trial-{record.number}"
        runs = train_seeds(config, list(fresh_seeds), folder, trainer=trainer, workers=workers)
        values, bad = [], []
        for s in fresh_seeds:
            value = runs[s].best.get(monitor) if runs[s].status.is_usable() else None
            if value is None or not math.isfinite(value):
                bad.append(f"seed {s} {runs[s].status.value}")
            else:
                values.append(float(value))
        note = f"{', '.join(bad)}: not compared" if bad else ""
        rows.append(
            {"rank": rank, "record": record, "config": config, "values": values, "note": note,
             "folder": folder}
        )
    comparable = {
        f"trial-{row['record'].number}": row["values"]
        for row in rows
        if not row["note"] and len(row["values"]) >= MIN_SEEDS
    }
    comparisons = {}
    if baseline_values is not None and comparable:
        comparisons = compare_many(
            list(baseline_values),
            comparable,
            higher_is_better=higher,
            alpha=alpha,
            min_effect=min_effect,
            seed=seed,
        )
    candidates = []
    for row in rows:
        record = row["record"]
        values = row["values"]
        note = row["note"]
        if not note and baseline_values is None:
            note = "no baseline to compare with"
        candidates.append(
            Candidate(
                rank=row["rank"],
                trial=record.number,
                params=record.params,
                config=row["config"],
                sweep_value=float(record.value or 0.0),
                seeds=list(fresh_seeds),
                values=values,
                summary=summarize(values) if values and not row["note"] else None,
                comparison=comparisons.get(f"trial-{record.number}"),
                rerun_dir=row["folder"],
                note=note,
            )
        )
    return candidates


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


def _run_workers(url: str, settings: st.SweepSettings, sweep_dir: Path, notes: list[str]) -> None:
    if settings.workers == 1:
        work(url, settings.study_name, worker_index=0)
        return
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // settings.workers)
    logs = [sweep_dir / "workers" / f"worker-{i}.log" for i in range(settings.workers)]
    processes = [
        context.Process(
            target=worker_process,
            args=(url, settings.study_name, i, threads, str(logs[i])),
            name=f"phasegate-sweep-worker-{i}",
        )
        for i in range(settings.workers)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except BaseException:
        for process in processes:
            if process.is_alive():
                process.terminate()
        raise
    failed = [(i, p.exitcode) for i, p in enumerate(processes) if p.exitcode != 0]
    for i, code in failed:
        lines = logs[i].read_text().strip().splitlines() if logs[i].is_file() else []
        notes.append(f"worker {i} exited with code {code}: {lines[-1] if lines else 'no output'}")
    if failed and len(failed) == len(processes):
        raise WorkflowError(f"every sweep worker failed; {notes[-1]}")


def _wait_for_others(study: optuna.Study) -> None:
    """Workers on other hosts may still run trials: wait until each ends or goes stale."""
    from optuna.trial import TrialState

    while study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        recover_interrupted(study)
        time.sleep(POLL_S)


class _Progress:
    """Calls `on_trial` for each newly finished trial, from a thread reading its own storage."""

    def __init__(
        self,
        url: str,
        study_name: str,
        space: SearchSpace,
        on_trial: Callable[[TrialRecord], None] | None,
    ):
        self.url, self.study_name, self.space, self.on_trial = url, study_name, space, on_trial
        self.stop = threading.Event()
        self.seen: set[int] = set()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        assert self.on_trial is not None
        study = st.load_study(open_storage(self.url), self.study_name)
        while True:
            stopping = self.stop.wait(POLL_S)
            for record in trial_records(study.get_trials(deepcopy=False), self.space):
                if record.finished and record.number not in self.seen:
                    self.seen.add(record.number)
                    self.on_trial(record)
            if stopping:
                return

    def __enter__(self) -> _Progress:
        if self.on_trial is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.on_trial is not None:
            self.stop.set()
            self.thread.join(timeout=30)
