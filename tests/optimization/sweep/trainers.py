"""Trainers with the built-in contract that misbehave on purpose, for the sweep tests.

Workers import them by name (`tests.optimization.sweep.trainers:slow_fit`), as they
would a user's `module:function`; the repository root must be on the path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.trainer import RunResult, fit

Report = Callable[[int, dict[str, float]], None] | None
ShouldStop = Callable[[], str | None] | None


def slow_fit(
    config: Any, seed: int, out_dir: str | Path, *, report: Report = None,
    should_stop: ShouldStop = None,
) -> RunResult:
    """The built-in trainer, pausing after each epoch so a test can kill it mid-trial."""
    delay = float(os.environ.get("PHASEGATE_TEST_EPOCH_DELAY", "0.3"))

    def slow_report(epoch: int, row: dict[str, float]) -> None:
        time.sleep(delay)
        if report is not None:
            report(epoch, row)

    return fit(config, seed, out_dir, report=slow_report, should_stop=should_stop)


def fragile_fit(
    config: Any, seed: int, out_dir: str | Path, *, report: Report = None,
    should_stop: ShouldStop = None,
) -> RunResult:
    """The built-in trainer, except that it raises on rmsprop, as buggy user code would."""
    if config.optimizer.name == "rmsprop":
        raise RuntimeError("user code cannot handle rmsprop")
    return fit(config, seed, out_dir, report=report, should_stop=should_stop)


RENDEZVOUS_ENV = "PHASEGATE_TEST_RENDEZVOUS"
RENDEZVOUS_WAIT_S = 120.0


def rendezvous() -> None:
    """Wait, on this process's first trial, until another process trains at the same time.

    Where the env variable PHASEGATE_TEST_RENDEZVOUS names a folder, each process
    leaves its pid there and waits until another process has left one too: a trial
    can only finish while two workers run at once. A lone worker raises after two
    minutes, failing its trial.
    """
    folder = os.environ.get(RENDEZVOUS_ENV)
    if not folder:
        return
    meeting = Path(folder)
    meeting.mkdir(parents=True, exist_ok=True)
    (meeting / str(os.getpid())).touch()
    deadline = time.monotonic() + RENDEZVOUS_WAIT_S
    while len(list(meeting.iterdir())) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no second worker process came within {RENDEZVOUS_WAIT_S} s")
        time.sleep(0.05)


def rendezvous_fit(
    config: Any, seed: int, out_dir: str | Path, *, report: Report = None,
    should_stop: ShouldStop = None,
) -> RunResult:
    """The built-in trainer, once two processes train at the same time (`rendezvous`)."""
    rendezvous()
    return fit(config, seed, out_dir, report=report, should_stop=should_stop)


def rendezvous_fake_fit(
    config: Any, seed: int, out_dir: str | Path, *, report: Report = None,
    should_stop: ShouldStop = None,
) -> RunResult:
    """The scripted trainer of tests.optimization.fake_trainer (exact gains per attempt, no
    torch), once two processes train at the same time (`rendezvous`)."""
    from tests.optimization import fake_trainer

    rendezvous()
    return fake_trainer.fit(config, seed, out_dir, report=report, should_stop=should_stop)
