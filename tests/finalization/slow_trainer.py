"""phasegate's own trainer, slowed down per epoch when PHASEGATE_TEST_EPOCH_DELAY is set.

A test that kills a run in the middle of Phase 4 needs Phase 4 to last long enough
to be caught there; the delay changes when epochs end, never what they compute.
Its `evaluate` and `export` are the built-in trainer's (the protocol, workflow.protocol).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.trainer import RunResult
from workflow.trainer import fit as builtin_fit
from workflow.trainer.builtin import evaluate, export

__all__ = ["evaluate", "export", "fit"]


def fit(
    config: Any,
    seed: int,
    out_dir: str | Path,
    *,
    report: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    delay = float(os.environ.get("PHASEGATE_TEST_EPOCH_DELAY") or 0)

    def slow(epoch: int, row: dict[str, float]) -> None:
        time.sleep(delay)
        if report is not None:
            report(epoch, row)

    return builtin_fit(config, seed, out_dir, report=slow, should_stop=should_stop)
