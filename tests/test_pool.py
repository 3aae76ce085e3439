"""workflow.pool: one warm pool of workers serves every arm of a command."""

from __future__ import annotations

import os
import time
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
DEVICE_FILE = "worker_device.txt"  # the device the worker took, and the one the run resolved
SEEN_FILE = "pool_seen.txt"  # in this process: whether a pool ran beside it at its 3rd epoch


def fit(
    config: Any,
    seed: int,
    out_dir: str | Path,
    *,
    report: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    """phasegate's trainer, leaving the id of the process that trained in the run folder (and
    the device it took and resolved); each epoch lasts PHASEGATE_TEST_EPOCH_DELAY seconds
    more when it is set."""
    from workflow.trainer import accel

    delay = float(os.environ.get("PHASEGATE_TEST_EPOCH_DELAY") or 0)

    def slow(epoch: int, row: dict[str, float]) -> None:
        time.sleep(delay)
        if epoch == 3 and seed == 0:  # seed 0 trains in the command (asserted below)
            (Path(out_dir).parent / SEEN_FILE).write_text(str(pools._POOL is not None))
        if report is not None:
            report(epoch, row)

    result = builtin_fit(config, seed, out_dir, report=slow, should_stop=should_stop)
    (Path(out_dir) / PID_FILE).write_text(str(os.getpid()))
    (Path(out_dir) / DEVICE_FILE).write_text(
        f"{accel.pinned()} {accel.resolve_device(config.device)}")
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
    pools.command_pool(2, TRAINER)  # started (as a first arm too large for this process)
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
# (or phasegate's environment) gets a new pool, so no worker runs with a stale import; the
# variables torch sets when the command imports it do not restart it
def test_a_changed_environment_gets_a_new_pool(monkeypatch: Any) -> None:
    first = pools.command_pool(2, TRAINER)
    assert pools.command_pool(2, TRAINER) is first
    # importing torch sets variables of its own: the warm pool is kept
    monkeypatch.setenv("KMP_INIT_AT_FORK", "FALSE")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/elsewhere")
    assert pools.command_pool(2, TRAINER) is first
    monkeypatch.setenv("PHASEGATE_TEST_POOL_KEY", "other")
    second = pools.command_pool(2, TRAINER)
    assert second is not first
    assert not set(first.pids()) & set(second.pids())
    pools.discard(second)
    assert pools.command_pool(2, TRAINER) is not second


# rule: with no warm pool, the first seed trains in this process and measures the job: a
# job whose seeds cost less than starting workers trains here, every seed in this process;
# one whose seeds cost more (slow epochs) goes to the pool for the seeds after the first,
# which start there as soon as the first seed's second epoch shows it (never after it)
def test_small_jobs_train_here_large_ones_in_the_pool(tmp_path: Path, monkeypatch: Any) -> None:
    from workflow import runner

    config = TrainConfig.model_validate(tiny_config())
    monkeypatch.setenv("PHASEGATE_TEST_POOL_KEY", "measured")  # no pool of an earlier test
    monkeypatch.setattr(runner, "_COLD_S", 5.0)  # a fresh worker's start, as measured
    train_arm("small", config, [0, 1, 2], tmp_path / "small", trainer=TRAINER, workers=2)
    assert _pids(tmp_path / "small") == {os.getpid()}
    assert pools.warm_pool(2, TRAINER) is None
    monkeypatch.setattr(runner, "_COLD_S", 0.5)
    monkeypatch.setenv("PHASEGATE_TEST_EPOCH_DELAY", "1.0")
    config = config.with_changes({"training.epochs": 4})
    train_arm("large", config, [0, 1, 2], tmp_path / "large", trainer=TRAINER, workers=2)
    pool = pools.warm_pool(2, TRAINER)
    assert pool is not None
    here = {int((tmp_path / "large" / f"seed-{s}" / PID_FILE).read_text()) for s in (1, 2)}
    assert int((tmp_path / "large" / "seed-0" / PID_FILE).read_text()) == os.getpid()
    assert here <= set(pool.pids()) and len(here) == 2
    # the large job's other seeds went to the pool while the first still trained
    assert (tmp_path / "large" / SEEN_FILE).read_text() == "True"


# rule: a sweep's trials (two at a time), its re-runs and an arm after it run in the same
# two workers of the command's pool: no process of the sweep's own, no second pool
def test_one_pool_serves_a_sweeps_trials_and_an_arm(tmp_path: Path) -> None:
    from phases.optimization.sweep import SweepSettings, parse_space, run_sweep

    config = TrainConfig.model_validate(tiny_config())
    pool = pools.command_pool(2, TRAINER)
    space = parse_space({"optimizer.lr": {"type": "float", "low": 1e-3, "high": 0.3,
                                          "grid": [0.01, 0.03, 0.1, 0.3]}}, source="test")
    sweep = run_sweep(config, space, tmp_path / "sweep", trainer=TRAINER, workers=2,
                      settings=SweepSettings(method="grid", pruner="none", workers=2, top_k=2),
                      fresh_seeds=[100, 101, 102])
    train_arm("arm", config, [0, 1, 2], tmp_path / "arm", trainer=TRAINER, workers=2)
    assert pools.command_pool(2, TRAINER) is pool
    trials = {int((tmp_path / "sweep" / f"trial-{r.number}" / PID_FILE).read_text())
              for r in sweep.trials}
    reruns = set().union(*(_pids(c.rerun_dir) for c in sweep.candidates))
    arm = _pids(tmp_path / "arm")
    workers = set(pool.pids())
    assert len(workers) == 2 and os.getpid() not in workers
    assert trials | reruns | arm <= workers
