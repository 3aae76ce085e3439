"""Train one config on several seeds, in worker processes, resuming finished seeds.

Each seed writes `<root>/seed-<n>/`. A seed whose folder holds a finished run
of the same config is not trained again, so a killed command rerun picks up
where it stopped. The trainer is phasegate's own or a user's `module:function`
with the same contract; workers import it by name.

Workers are spawned processes that die with the command (`workflow.lifeline`):
a killed command leaves no worker finishing its seeds beside the rerun. Ctrl-C
stops them: the command ends their processes, removes the staging folders
(`.seed-<n>.partial`) of the seeds it did not finish, and raises
`KeyboardInterrupt` once.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from workflow.errors import PluginError, UsageError
from workflow.lifeline import worker_init
from workflow.safe_yaml import read_yaml
from workflow.trainer.config import TrainConfig
from workflow.trainer.result import CONFIG_FILE, METRICS_FILE, RunResult
from workflow.trainer.run_folder import staging_dir

EpochCallback = Callable[[int, int, dict[str, float]], None]  # (seed, epoch, row)


def seed_dir(root: Path, seed: int) -> Path:
    return root / f"seed-{seed}"


def finished_run(run_dir: Path, config: TrainConfig) -> RunResult | None:
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
    config: TrainConfig,
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

    resolve_trainer(trainer)  # a bad plug-in fails here, once, with its message
    results: dict[int, RunResult] = {}
    pending = []
    for seed in seeds:
        done = finished_run(seed_dir(root, seed), config)
        if done is not None:
            results[seed] = done
        else:
            pending.append(seed)
    if not pending:
        return results
    workers = max(1, min(workers or default_workers(), len(pending)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers == 1:
        for seed in pending:
            try:
                result = _train_one(trainer, config, seed, root, threads, on_epoch)
            except KeyboardInterrupt:
                _remove_staging(root, [seed])
                raise
            results[seed] = result
            if on_done:
                on_done(result)
        return results

    context = multiprocessing.get_context("spawn")
    events: Any = context.Queue()
    drain = threading.Thread(target=_drain, args=(events, on_epoch), daemon=True)
    drain.start()
    # the kernel's parent-death signal follows the spawning thread: asked for only from the
    # main thread, which ends with the process (the watchdog covers every other case)
    from_main = threading.current_thread() is threading.main_thread()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(os.getpid(), from_main, events))
    try:
        futures = {
            pool.submit(_worker, trainer, config, seed, root, threads): seed for seed in pending
        }
        for future in futures:
            result = future.result()
            results[futures[future]] = result
            if on_done:
                on_done(result)
    except KeyboardInterrupt:
        _stop(pool)
        _remove_staging(root, [seed for seed in pending if seed not in results])
        raise
    finally:
        pool.shutdown(wait=True)
        events.put(None)
        drain.join(timeout=5)
        events.close()
    return {seed: results[seed] for seed in seeds}


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
    return max(1, min(4, os.cpu_count() or 1))


def _train_one(
    trainer: str,
    config: TrainConfig,
    seed: int,
    root: Path,
    threads: int,
    on_epoch: EpochCallback | None,
) -> RunResult:
    import torch

    from workflow.trainer import resolve_trainer

    torch.set_num_threads(threads)
    fit = resolve_trainer(trainer)
    report = (lambda epoch, row: on_epoch(seed, epoch, row)) if on_epoch else None
    result = fit(config, seed, seed_dir(root, seed), report=report, should_stop=None)
    if not isinstance(result, RunResult):
        raise PluginError(
            f"trainer {trainer!r} returned {type(result).__name__}, not a RunResult"
        )
    return result


_EVENTS: Any = None  # in a worker process: the queue its epochs are reported on


def _init_worker(parent_pid: int, pdeathsig: bool, events: Any) -> None:
    global _EVENTS
    worker_init(parent_pid, pdeathsig)
    _EVENTS = events


def _worker(
    trainer: str, config: TrainConfig, seed: int, root: Path, threads: int
) -> RunResult:
    events = _EVENTS
    return _train_one(
        trainer, config, seed, root, threads, lambda s, e, row: events.put((s, e, row))
    )


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now (they ignore Ctrl-C) and wait until they are gone."""
    # the executor offers no way to end running calls before Python 3.14's terminate_workers
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=30)


def _remove_staging(root: Path, seeds: Iterable[int]) -> None:
    """The half-written run folders of seeds that did not finish (a rerun trains them anew)."""
    for seed in seeds:
        shutil.rmtree(staging_dir(seed_dir(root, seed)), ignore_errors=True)


def _drain(events: Any, on_epoch: EpochCallback | None) -> None:
    while True:
        try:
            item = events.get(timeout=0.5)
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return
        if item is None:
            return
        if on_epoch is not None:
            on_epoch(*item)
