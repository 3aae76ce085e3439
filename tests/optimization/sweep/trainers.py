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
