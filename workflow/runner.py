"""Train one config on several seeds, in worker processes, resuming finished seeds.

Each seed writes `<root>/seed-<n>/`. A seed whose folder holds a finished run
of the same config is not trained again, so a killed command rerun picks up
where it stopped. The trainer is phasegate's own or a user's `module:function`
with the same contract; workers import it by name.

Small jobs train in this process when measured faster than starting workers
(`_measured`); otherwise the workers are the command's one pool (`workflow.pool`),
started once and kept warm for every arm; they die with the command
(`workflow.lifeline`): a killed command leaves no worker finishing its seeds beside
the rerun. Ctrl-C stops them: the command ends their processes, removes the staging folders
(`.seed-<n>.partial`) of the seeds it did not finish, and raises
`KeyboardInterrupt` once.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from workflow.errors import PluginError, UsageError
from workflow.own_config import RunConfig
from workflow.pool import (
    THREADS_PER_WORKER,
    WorkerPool,
    command_pool,
    discard,
    report_epoch,
    warm_pool,
)
from workflow.safe_yaml import read_yaml
from workflow.trainer.config import TrainConfig
from workflow.trainer.result import CONFIG_FILE, METRICS_FILE, RunResult
from workflow.trainer.run_folder import staging_dir

EpochCallback = Callable[[int, int, dict[str, float]], None]  # (seed, epoch, row)


def seed_dir(root: Path, seed: int) -> Path:
    return root / f"seed-{seed}"


def finished_run(run_dir: Path, config: RunConfig) -> RunResult | None:
    """The run in `run_dir` if it finished with this very config, else None."""
    if not (run_dir / METRICS_FILE).is_file() or not (run_dir / CONFIG_FILE).is_file():
        return None
    recorded = read_yaml(run_dir / CONFIG_FILE)
    expected = config.model_dump(mode="json")
    recorded.pop("seed", None)
    expected.pop("seed", None)
    if recorded != expected:
        return None
    return RunResult.load(run_dir)


def train_seeds(
    config: RunConfig,
    seeds: Sequence[int],
    root: Path,
    *,
    trainer: str = "builtin",
    workers: int | None = None,
    on_epoch: EpochCallback | None = None,
    on_done: Callable[[RunResult], None] | None = None,
) -> dict[int, RunResult]:
    """Train `config` on every seed not already finished; return every seed's result."""
    from workflow.trainer import resolve_trainer

    began = time.perf_counter()
    resolve_trainer(trainer)  # a bad plug-in fails here, once, with its message
    size = max(1, workers or default_workers())  # counting the GPUs imports torch
    # what a fresh worker pays before its first run (torch's import too, if it is made here:
    # left out, a walk's baseline took the pool for 0.05 s of cold start and paid seconds)
    imported = time.perf_counter() - began
    job = _Job(trainer, config, root, {}, on_epoch, on_done)
    pending = []
    for seed in seeds:
        done = finished_run(seed_dir(root, seed), config)
        if done is not None:
            job.results[seed] = done
        else:
            pending.append(seed)
    workers = min(size, len(pending))
    if workers > 1 and warm_pool(size, trainer) is None:
        pending = _measured(job, pending, (workers, size), imported)
        workers = min(size, len(pending))
    if workers > 1:
        pending = _together(job, pending, (workers, size))
    if workers == 1:
        for seed in pending:
            job.here(seed)
    elif pending:
        _in_pool(job, pending, (workers, size))
    return {seed: job.results[seed] for seed in seeds}


@dataclass(frozen=True)
class _Job:
    """One arm's training: what each way of training its seeds needs, and its results."""

    trainer: str
    config: RunConfig  # phasegate's TrainConfig, or the trainer's own
    root: Path
    results: dict[int, RunResult]
    on_epoch: EpochCallback | None
    on_done: Callable[[RunResult], None] | None

    def done(self, seed: int, result: RunResult) -> None:
        self.results[seed] = result
        if self.on_done:
            self.on_done(result)

    def here(self, seed: int, on_epoch: EpochCallback | None = None) -> None:
        """Train `seed` in this process (a Ctrl-C removes its staging folder)."""
        try:
            result = _train_one(self.trainer, self.config, seed, self.root,
                                on_epoch or self.on_epoch)
        except KeyboardInterrupt:
            _remove_staging(self.root, [seed])
            raise
        self.done(seed, result)

    def unfinished(self, seeds: Iterable[int]) -> list[int]:
        return [seed for seed in seeds if seed not in self.results]


_COLD_S = 0.0  # the most a run was measured to pay before its first epoch in this process
# seeds that train together here cost at most this share of training them one by one, by
# model: the slowest ratio benchmarks/seeds_together.py measured for K = 5 on one CPU thread
# (MLP 0.42-0.49; the small CNN 0.72 one day, 0.89-1.01 another: no saving counted)
TOGETHER_SHARE = {"mlp": 0.5, "cnn": 1.0}


def _measured(job: _Job, pending: list[int], sizes: tuple[int, int], imported: float
              ) -> list[int]:
    """Small jobs in this process, when measured faster than starting the pool; the seeds
    left for the pool.

    The first seed trains here. The times its epochs are reported at tell what a seed costs
    warm (an epoch, scaled to every planned epoch); the time before its first report, and
    the imports before it (`imported`), is what a fresh worker would pay before its first
    epoch (the most seen, `_COLD_S`). The other `r` seeds stay here when `r` warm seeds
    (`TOGETHER_SHARE` of that when they would train together) cost less than a cold start
    plus `ceil(r / workers)` warm seeds. The choice is made at the first seed's second
    epoch: seeds that belong in the pool start there at once, beside the first, instead of
    waiting for it to finish (a large model's first seed never trains alone). `sizes`:
    (workers, the pool's size).
    """
    global _COLD_S
    from workflow.trainer.together import chosen, fit_together

    workers, size = sizes
    rest = pending[1:]
    planned = _planned_epochs(job.config)
    config = job.config
    together = config if isinstance(config, TrainConfig) and chosen(
        config, job.trainer, len(rest)) else None
    share = TOGETHER_SHARE.get(together.model.name, 1.0) if together else 1.0
    stamps: list[float] = []
    early: dict[Future[RunResult], int] = {}
    pools: list[WorkerPool] = []

    def heard(seed: int, epoch: int, row: dict[str, float]) -> None:
        stamps.append(time.perf_counter())
        if job.on_epoch is not None:
            job.on_epoch(seed, epoch, row)
        if len(stamps) == 2 and rest:
            per_epoch = stamps[1] - stamps[0]
            cold = max(_COLD_S, imported + (stamps[0] - started) - per_epoch)
            if not _here_is_faster(len(rest), workers, cold, per_epoch * planned, share):
                pool = command_pool(size, job.trainer)  # from the main thread, as always
                pool.sink = job.on_epoch
                pools.append(pool)
                for other in rest:
                    early[pool.submit(_worker, job.trainer, job.config, other, job.root)] = other

    started = time.perf_counter()
    try:
        job.here(pending[0], heard)
    except BaseException as exc:
        if pools:
            _settle(job, pools[0], early, rest, exc)
        raise
    if pools:
        _collect(job, pools[0], early, rest)
        return []
    spent = time.perf_counter() - started
    warm = spent
    if len(stamps) >= 2:
        warm = (stamps[-1] - stamps[0]) * len(stamps) / (len(stamps) - 1)
    _COLD_S = max(_COLD_S, imported + spent - warm)
    if not rest or not _here_is_faster(len(rest), workers, _COLD_S, warm, share):
        return rest
    if together is not None:
        try:
            trained = fit_together(together, rest, job.root, report=job.on_epoch) or {}
        except KeyboardInterrupt:
            _remove_staging(job.root, rest)
            raise
        for seed, result in sorted(trained.items()):
            job.done(seed, result)
    for seed in job.unfinished(rest):
        job.here(seed)
    return []


def _here_is_faster(seeds: int, workers: int, cold: float, warm: float,
                    share: float = 1.0) -> bool:
    """Whether `seeds` warm seeds here (trained together: `share` of one by one) cost less
    than a cold pool running them `workers` at a time."""
    return seeds * warm * share <= cold + math.ceil(seeds / workers) * warm


def _planned_epochs(config: RunConfig) -> int:
    stages = config.training.stages
    return sum(stage.epochs for stage in stages) if stages else config.training.epochs


def _collect(job: _Job, pool: WorkerPool, running: dict[Future[RunResult], int],
             seeds: list[int]) -> None:
    """The results of the seeds started in `pool` beside the first, in seed order."""
    try:
        for future in sorted(running, key=lambda f: running[f]):
            job.done(running[future], future.result())
        pool.flush()
    except BaseException as exc:
        _settle(job, pool, running, seeds, exc)
        raise
    finally:
        if pool.sink is job.on_epoch:
            pool.sink = None


def _settle(job: _Job, pool: WorkerPool, running: dict[Future[RunResult], int],
            seeds: list[int], exc: BaseException) -> None:
    """After `exc`: Ctrl-C or a broken pool ends the workers and removes the unfinished
    seeds' staging folders; a failed seed lets the running ones finish (a rerun finds
    them), as `_in_pool` does."""
    if isinstance(exc, (KeyboardInterrupt, BrokenProcessPool)):
        discard(pool)
        _remove_staging(job.root, job.unfinished(seeds))
    else:
        wait(running)
    if pool.sink is job.on_epoch:
        pool.sink = None


def _in_pool(job: _Job, pending: list[int], sizes: tuple[int, int]) -> None:
    """Train `pending` in the command's pool, at most `workers` at a time.

    `sizes`: (workers, the pool's size): an arm with fewer seeds left than the command has
    workers uses the warm pool, never a smaller one of its own.
    """
    workers, size = sizes
    pool = command_pool(size, job.trainer)
    pool.sink = job.on_epoch
    waiting = list(pending)
    running: dict[Future[RunResult], int] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                seed = waiting.pop(0)
                running[pool.submit(_worker, job.trainer, job.config, seed, job.root)] = seed
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: running[f]):
                seed = running.pop(future)
                job.done(seed, future.result())
        pool.flush()
    except (KeyboardInterrupt, BrokenProcessPool):
        discard(pool)
        _remove_staging(job.root, job.unfinished(pending))
        raise
    except BaseException:
        # a failed seed: the seeds already running finish (a rerun finds them), as they
        # did when each arm shut its own pool down
        wait(running)
        raise
    finally:
        if pool.sink is job.on_epoch:
            pool.sink = None


def _together(job: _Job, pending: list[int], sizes: tuple[int, int]) -> list[int]:
    """Train the seeds of a small model together (workflow.trainer.together), in `workers`
    groups, one per worker of the pool (`sizes`: workers, the pool's size); the seeds left
    to train one by one (none, unless a group could not train together).

    With one worker the seeds train one by one in this process, as they always did: each
    seed's epochs are reported in turn, where a vectorized arm reports epoch by epoch.
    """
    from workflow.trainer.together import chosen

    workers, size = sizes
    config = job.config
    if not isinstance(config, TrainConfig) or not chosen(config, job.trainer, len(pending)):
        return pending
    groups = [pending[i::workers] for i in range(workers)]
    if any(len(g) < 2 for g in groups):
        groups = [pending]
    pool = command_pool(size, job.trainer)
    pool.sink = job.on_epoch
    try:
        futures = [pool.submit(_group_worker, config, g, job.root) for g in groups]
        outcomes = [f.result() for f in futures]
        pool.flush()
    except (KeyboardInterrupt, BrokenProcessPool):
        discard(pool)
        _remove_staging(job.root, pending)
        raise
    finally:
        pool.sink = None
    for outcome in outcomes:
        for seed, result in sorted((outcome or {}).items()):
            job.done(seed, result)
    return job.unfinished(pending)


def _group_worker(config: TrainConfig, seeds: list[int], root: Path) -> dict[int, RunResult] | None:
    import torch

    from workflow.trainer.together import fit_together

    torch.set_num_threads(THREADS_PER_WORKER)
    return fit_together(config, seeds, root, report=report_epoch)


def default_workers() -> int:
    env = os.environ.get("PHASEGATE_WORKERS")
    if env:
        try:
            workers = int(env)
        except ValueError:
            workers = 0
        if workers < 1:  # never silently one worker: a typo in the environment is bad input
            raise UsageError(f"PHASEGATE_WORKERS must be a whole number of at least 1, "
                             f"but got {env!r}")
        return workers
    from workflow.trainer.accel import worker_devices

    # one worker per device where there are several GPUs, so each trains at once
    return max(1, min(4, os.cpu_count() or 1), len(worker_devices()))


def _train_one(
    trainer: str,
    config: RunConfig,
    seed: int,
    root: Path,
    on_epoch: EpochCallback | None,
) -> RunResult:
    import torch

    from workflow.own_config import fit_argument
    from workflow.trainer import resolve_trainer

    torch.set_num_threads(THREADS_PER_WORKER)
    fit = resolve_trainer(trainer)
    report = (lambda epoch, row: on_epoch(seed, epoch, row)) if on_epoch else None
    result = fit(fit_argument(config), seed, seed_dir(root, seed), report=report,
                 should_stop=None)
    if not isinstance(result, RunResult):
        raise PluginError(
            f"trainer {trainer!r} returned {type(result).__name__}, not a RunResult"
        )
    return result


def _worker(trainer: str, config: RunConfig, seed: int, root: Path) -> RunResult:
    return _train_one(trainer, config, seed, root, lambda s, e, row: report_epoch(s, e, row))


def _remove_staging(root: Path, seeds: Iterable[int]) -> None:
    """The half-written run folders of seeds that did not finish (a rerun trains them anew)."""
    for seed in seeds:
        shutil.rmtree(staging_dir(seed_dir(root, seed)), ignore_errors=True)
