"""Trials whose worker died: found, failed as interrupted, and enqueued again.

A trial whose process died stays RUNNING in the storage. It is stale when its
worker ran on this host and that process is gone, or when its heartbeat
(refreshed every `HEARTBEAT_S` by the worker) is older than `STALE_AFTER_S`.
`recover_interrupted` fails it (outcome "interrupted") and enqueues its
parameters again, so it is retried with the same parameters, up to
`MAX_RETRIES` times. `remove_partials` then removes the staging folders
(`.trial-<n>.partial`) of trials that no longer run: a killed or interrupted
sweep leaves none behind once it is rerun, or once its Ctrl-C is handled.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep.study import (
    ATTEMPT,
    HEARTBEAT,
    OUTCOME,
    REASON,
    RETRY_OF,
    WORKER,
)

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "MAX_RETRIES", "worker_identity",
           "recover_interrupted", "remove_partials"]

HEARTBEAT_S = 15.0
STALE_AFTER_S = 120.0
MAX_RETRIES = 2  # a trial that kills its worker three times is not tried again


def worker_identity() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": _process_start(pid)}


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(worker: dict[str, Any]) -> bool:
    pid = int(worker.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = worker.get("started")
    return started is None or _process_start(pid) in (None, started)


def _stale_reason(
    trial: FrozenTrial, *, orphans_stale: bool, ours: bool, now: float
) -> str | None:
    worker = trial.user_attrs.get(WORKER)
    if worker is None and orphans_stale:
        return "interrupted: its worker died before it started training"
    worker = worker or {}
    if ours and worker.get("host") == socket.gethostname() and worker.get("pid") == os.getpid():
        return "interrupted: the sweep was interrupted (Ctrl-C) while it trained"
    if worker.get("host") == socket.gethostname() and not _alive(worker):
        return f"interrupted: its worker (pid {worker.get('pid')}) died"
    last = trial.user_attrs.get(HEARTBEAT)
    if last is None and trial.datetime_start is not None:
        last = trial.datetime_start.timestamp()
    if last is not None and now - float(last) > STALE_AFTER_S:
        where = worker.get("host", "an unknown host")
        return f"interrupted: its worker on {where} stopped answering ({now - last:.0f} s)"
    return None


def recover_interrupted(
    study: optuna.Study, *, orphans_stale: bool = False, ours: bool = False
) -> list[int]:
    """Fail the RUNNING trials whose worker is gone and enqueue each again; their numbers.

    `orphans_stale`: a RUNNING trial that names no worker (its process died between
    asking for it and signing it) is stale now, not after `STALE_AFTER_S`; true for
    a local journal whose coordinator holds the sweep's lock. `ours`: the trials this
    very process was running are interrupted too (it caught a Ctrl-C).
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    recovered = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = _stale_reason(trial, orphans_stale=orphans_stale, ours=ours, now=now)
        if reason is None:
            continue
        storage = study._storage  # Optuna offers no public way to end another's trial
        try:
            storage.set_trial_user_attr(trial._trial_id, OUTCOME, "interrupted")
            storage.set_trial_user_attr(trial._trial_id, REASON, reason)
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # another worker got there first, or the trial just finished
        recovered.append(trial.number)
        attempt = int(trial.user_attrs.get(ATTEMPT, 1))
        if attempt > MAX_RETRIES:
            storage.set_trial_user_attr(
                trial._trial_id, REASON, f"{reason}; not retried after {attempt} attempts"
            )
            continue
        # the point it was given (enqueued) with whatever it had suggested: a trial killed
        # before it suggested anything is retried on its queued point, not a fresh draw
        params = {**trial.system_attrs.get("fixed_params", {}), **trial.params}
        study.enqueue_trial(
            params,
            user_attrs={RETRY_OF: trial.number, ATTEMPT: attempt + 1},
            skip_if_exists=False,
        )
    return recovered


_PARTIAL = re.compile(r"^\.trial-(\d+)\.partial$")


def remove_partials(study: optuna.Study, trial_root: Path) -> list[Path]:
    """Remove the `.trial-<n>.partial` folders under `trial_root` of trials not RUNNING now
    (a running trial, here or on another host sharing the folder, keeps its own)."""
    from optuna.trial import TrialState

    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    removed = []
    for path in sorted(trial_root.glob(".trial-*.partial")):
        found = _PARTIAL.match(path.name)
        if found is None or int(found.group(1)) in running:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
