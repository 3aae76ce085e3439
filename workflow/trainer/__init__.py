"""The shared PyTorch trainer.

The built-in implementation of the trainer protocol (`workflow.protocol`; the
protocol object is `workflow.trainer.builtin.BUILTIN`). The contract every phase
drives for training (the built-in `fit` or a user's own):

    fit(config, seed, out_dir, *, report=None, should_stop=None) -> RunResult

`report(epoch, metrics)` is called after every epoch with that epoch's row of
the history; `should_stop()` is asked after every epoch and returns a reason
(str) to stop the run as `pruned`, or None to go on.

This package's `__init__` stays torch-free: torch loads only when `fit` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.trainer.result import RunResult, RunStatus

__all__ = ["RunResult", "RunStatus", "fit", "resolve_trainer", "Trainer"]

Trainer = Callable[..., RunResult]


def fit(
    config: Any,
    seed: int,
    out_dir: str | Path,
    *,
    report: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    """Train `config` with `seed`, writing the run into `out_dir` (see the module docstring)."""
    from workflow.trainer.loop import fit as _fit

    return _fit(config, seed, out_dir, report=report, should_stop=should_stop)


def resolve_trainer(spec: str) -> Trainer:
    """The `fit` of the trainer `spec` (`builtin`, or a user's, see `workflow.protocol`),
    checked against the whole protocol when it is loaded."""
    from workflow.protocol import resolve_trainer_protocol

    return resolve_trainer_protocol(spec).fit
