"""workflow.pool: one warm pool of workers serves every arm of a command."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.conftest import tiny_config
from workflow import pool as pools
from workflow.arms import train_arm
from workflow.progress import QuietProgress
from workflow.trainer import RunResult
from workflow.trainer import fit as builtin_fit
from workflow.trainer.config import TrainConfig

TRAINER = "tests.test_pool:fit"
PID_FILE = "worker.pid"


def fit(
    config: Any,
    seed: int,
    out_dir: str | Path,
    *,
    report: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    """phasegate's trainer, leaving the id of the process that trained in the run folder."""
    result = builtin_fit(config, seed, out_dir, report=report, should_stop=should_stop)
    (Path(out_dir) / PID_FILE).write_text(str(os.getpid()))
    return result


class _Epochs(QuietProgress):
    def __init__(self) -> None:
        self.heard: list[tuple[int, int]] = []

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        self.heard.append((seed, epoch))


def _pids(root: Path) -> set[int]:
    return {int(p.read_text()) for p in root.glob(f"seed-*/{PID_FILE}")}


# rule: two arms trained one after the other with 2 workers run in the same two worker
# processes (none of them this one): the pool is started once and not restarted per arm,
# and every epoch of each arm is heard before train_arm returns
def test_one_pool_serves_two_arms(tmp_path: Path) -> None:
    config = TrainConfig.model_validate(tiny_config())
    heard = []
    for label in ("baseline", "attempt-1"):
        epochs = _Epochs()
        train_arm(label, config, [0, 1, 2], tmp_path / label, trainer=TRAINER, workers=2,
                  progress=epochs)
        heard.append(sorted(epochs.heard))
    pool = pools.command_pool(2, TRAINER)
    workers = set(pool.pids())
    first, second = _pids(tmp_path / "baseline"), _pids(tmp_path / "attempt-1")
    assert len(workers) == 2 and os.getpid() not in workers
    assert first <= workers and second <= workers
    assert len(first | second) <= 2  # no third process trained anything
    expected = sorted((seed, epoch) for seed in (0, 1, 2) for epoch in (1, 2))
    assert heard == [expected, expected]


# rule: a pool is kept only while what its workers inherited is the same: another trainer
# (or environment) gets a new pool, so no worker runs with a stale import
def test_a_changed_environment_gets_a_new_pool(monkeypatch: Any) -> None:
    first = pools.command_pool(2, TRAINER)
    assert pools.command_pool(2, TRAINER) is first
    monkeypatch.setenv("PHASEGATE_TEST_POOL_KEY", "other")
    second = pools.command_pool(2, TRAINER)
    assert second is not first
    assert not set(first.pids()) & set(second.pids())
    pools.discard(second)
    assert pools.command_pool(2, TRAINER) is not second
