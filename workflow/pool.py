"""One pool of worker processes for the whole command, started and warmed once.

Every arm of a command (the baseline, each Phase 4 attempt, a sweep's re-runs,
Phase 5's final training) trains its seeds in the same spawned workers. A new
pool per arm paid, per worker, seconds of imports (torch, the trainer, the
dataset's library) before its first step, once per arm; a walk of five arms
paid it five times. `command_pool(workers)` gives the live pool, or starts one:

- its workers are spawned at once, from the calling thread, and warmed (torch
  and the trainer imported, one intra-op thread set) while the command goes on;
- a pool is kept while what its workers inherited is unchanged: the worker
  count, the trainer, `sys.path`, the working directory and phasegate's and
  Python's variables of the environment (`PHASEGATE_*`, `PYTHON*`; a test that
  changes any of them gets a fresh pool, never a stale import). Other variables
  are left out: importing torch in the command sets some (`KMP_*`,
  `TORCHINDUCTOR_CACHE_DIR`), which restarted the pool after the first arm;
- where there are several GPUs, each worker takes one in turn when it starts
  (`workflow.trainer.accel.pin`: worker i the i-th device, modulo their count), so
  seeds and trials spread over them;
- its workers die with the command and ignore Ctrl-C (`workflow.lifeline`);
  `discard()` ends them at once (Ctrl-C, a broken pool); the interpreter's exit
  ends an idle pool at once (a worker's own orderly exit, torch torn down, took
  seconds on a busy machine) and lets a busy one finish its runs first.

A worker reports epochs on one queue whose writes are synchronous
(`SimpleQueue`): by the time a task's result is back, its epochs are in the
pipe, so `flush()` (a marker behind them) delivers every epoch of a finished
arm before its caller moves on.
"""

from __future__ import annotations

import atexit
import hashlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from workflow.lifeline import worker_init

__all__ = ["DEVICES_ENV", "THREADS_PER_WORKER", "WorkerPool", "command_pool", "discard",
           "report_epoch", "use_devices", "warm_pool"]

# one intra-op thread per worker on CPU: on this project's small models a second thread
# per worker only spins against the other workers (a CNN step measured 250 ms with two
# threads on a busy 2-core machine against 10 ms with one)
THREADS_PER_WORKER = 1

# the GPUs the workers take in turn, e.g. "cuda:0,cuda:1" (workflow.trainer.accel)
DEVICES_ENV = "PHASEGATE_DEVICES"

EpochSink = Callable[[int, int, dict[str, float]], None]  # (seed, epoch, row)


class WorkerPool:
    """Spawned workers serving task after task; epochs come back through `sink`."""

    def __init__(self, workers: int, key: str, warm: str | None = None) -> None:
        self.workers, self.key = workers, key
        context = multiprocessing.get_context("spawn")
        self._events: Any = context.SimpleQueue()
        self.sink: EpochSink | None = None
        self._submitted: list[Future[Any]] = []
        self._flushed: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._drain = threading.Thread(target=self._read, name="phasegate-epochs", daemon=True)
        self._drain.start()
        # the kernel's parent-death signal follows the spawning thread: asked for only from
        # the main thread, which ends with the process (the watchdog covers every other case)
        from_main = threading.current_thread() is threading.main_thread()
        turns = context.Value("i", 0)  # the order workers start in: which device each takes
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker,
            initargs=(os.getpid(), from_main, self._events, turns),
        )
        # each submit of an idle-less pool spawns one worker, here, from this thread
        self._warming = [self._executor.submit(_warm, warm) for _ in range(workers)]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future = self._executor.submit(_task, fn, *args)
        self._submitted = [f for f in self._submitted if not f.done()] + [future]
        return future

    def busy(self) -> bool:
        """Whether a task (not a warm-up) is queued or running."""
        return any(not f.done() for f in self._submitted)

    def pids(self) -> list[int]:
        """The worker processes' ids (a test counts them)."""
        return sorted((getattr(self._executor, "_processes", None) or {}).keys())

    def flush(self) -> None:
        """Deliver every epoch reported so far to `sink` (see the module docstring)."""
        marker = threading.Event()
        with self._lock:
            token = id(marker)
            self._flushed[token] = marker
        self._events.put(("flush", token))
        marker.wait(timeout=30)

    def stop(self) -> None:
        """End the workers now (they ignore Ctrl-C) and wait until they are gone."""
        # the executor offers no way to end running calls before Python 3.14's
        # terminate_workers
        processes = list((getattr(self._executor, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=30)
        self._close_events()

    def close(self) -> None:
        """Let the workers finish and exit (an idle pool at the end of the command)."""
        self._executor.shutdown(wait=True)
        self._close_events()

    def _close_events(self) -> None:
        try:
            self._events.put(None)
        except (OSError, ValueError):
            return
        self._drain.join(timeout=5)

    def _read(self) -> None:
        while True:
            try:
                item = self._events.get()
            except (EOFError, OSError):
                return
            if item is None:
                return
            if item[0] == "flush":
                with self._lock:
                    marker = self._flushed.pop(item[1], None)
                if marker is not None:
                    marker.set()
                continue
            sink = self.sink
            if sink is not None:
                sink(*item[1:])


_POOL: WorkerPool | None = None
_GUARD = threading.Lock()


def command_pool(workers: int, trainer: str = "builtin") -> WorkerPool:
    """The command's pool of `workers` workers for `trainer`: the live one, or a new one."""
    global _POOL
    key = _inherited(workers, trainer)
    with _GUARD:
        if _POOL is not None and _POOL.key != key:
            _POOL.close()
            _POOL = None
        if _POOL is None:
            _POOL = WorkerPool(workers, key, warm=trainer)
        return _POOL


def warm_pool(workers: int, trainer: str = "builtin") -> WorkerPool | None:
    """The live pool `command_pool(workers, trainer)` would give, or None (none started)."""
    key = _inherited(workers, trainer)
    with _GUARD:
        return _POOL if _POOL is not None and _POOL.key == key else None


def discard(pool: WorkerPool) -> None:
    """End `pool` now (Ctrl-C, a broken worker): the next arm starts a fresh one."""
    global _POOL
    with _GUARD:
        if _POOL is pool:
            _POOL = None
    pool.stop()


def use_devices(devices: list[str] | None) -> None:
    """The project's `devices` for this command's workers, unless PHASEGATE_DEVICES already
    says which (a pool started with other devices is replaced at its next use)."""
    if devices:
        os.environ.setdefault(DEVICES_ENV, ",".join(devices))


def report_epoch(seed: int, epoch: int, row: dict[str, float]) -> None:
    """In a worker: report one epoch of `seed` to the command."""
    if _EVENTS is not None:
        _EVENTS.put(("epoch", seed, epoch, row))


def _close_at_exit() -> None:
    global _POOL
    pool, _POOL = _POOL, None
    if pool is None:
        return
    if pool.busy():
        pool.close()
    else:
        pool.stop()


# before concurrent.futures' own exit hook, which would wait for each idle worker's orderly
# exit (threading's exit hooks run newest first, and before the atexit module's)
_register = getattr(threading, "_register_atexit", atexit.register)
_register(_close_at_exit)


def _inherited(workers: int, trainer: str) -> str:
    """What a spawned worker inherits from the command, as one digest."""
    digest = hashlib.sha256()
    for part in (str(workers), trainer, os.getcwd(), *sys.path,
                 *sorted(f"{k}={v}" for k, v in os.environ.items()
                         if k.startswith(("PHASEGATE_", "PYTHON")))):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


_EVENTS: Any = None  # in a worker process: the queue its epochs are reported on
_FAULT: Exception | None = None  # in a worker process: why it could not take its device


def _init_worker(parent_pid: int, pdeathsig: bool, events: Any, turns: Any) -> None:
    global _EVENTS, _FAULT
    worker_init(parent_pid, pdeathsig)
    _EVENTS = events
    with turns.get_lock():
        index = turns.value
        turns.value += 1
    from workflow.trainer.accel import pin

    try:
        pin(index)
    except Exception as exc:  # noqa: BLE001 - a bad device list: each task says why
        _FAULT = exc


def _task(fn: Callable[..., Any], *args: Any) -> Any:
    """A task in a worker: `fn(*args)`, unless the worker could not take its device."""
    if _FAULT is not None:
        raise _FAULT
    return fn(*args)


def _warm(trainer: str | None) -> int:
    """A worker's first task: the imports every run needs, made before the first run."""
    import torch

    torch.set_num_threads(THREADS_PER_WORKER)
    if trainer is not None:
        from workflow.trainer import resolve_trainer

        try:
            resolve_trainer(trainer)
        except Exception:  # noqa: BLE001 - the command resolves it too, and says why
            pass
    return os.getpid()
