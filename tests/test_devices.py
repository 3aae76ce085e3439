"""Several GPUs: each worker of the command's pool takes one device in turn."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.conftest import tiny_config
from tests.test_pool import DEVICE_FILE, PID_FILE, TRAINER
from workflow import pool as pools
from workflow.arms import train_arm
from workflow.errors import ConfigError
from workflow.trainer import accel
from workflow.trainer.config import TrainConfig


# rule: with two devices listed, the pool's two workers take one each (cuda:0, cuda:1) and
# keep it for every seed they train; on a machine without CUDA every run still trains on
# the CPU, as before
def test_each_worker_takes_one_device_and_cpu_runs_are_unaffected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (a machine with one GPU lists it twice: both workers on it, each pinned)
    devices = ["cuda:0", "cuda:1"] if torch.cuda.device_count() != 1 else ["cuda:0", "cuda:0"]
    monkeypatch.setenv(accel.DEVICES_ENV, ",".join(devices))
    # seeds long enough that both workers take one, even on a loaded machine (without it,
    # one worker sometimes trained all four while the other was still being scheduled)
    monkeypatch.setenv("PHASEGATE_TEST_EPOCH_DELAY", "0.4")
    config = TrainConfig.model_validate(tiny_config()).with_changes({"device": "auto"})
    pool = pools.command_pool(2, TRAINER)  # a warm pool: every seed trains in a worker
    train_arm("arm", config, [0, 1, 2, 3], tmp_path / "arm", trainer=TRAINER, workers=2)
    took = {}
    for seed in range(4):
        folder = tmp_path / "arm" / f"seed-{seed}"
        pid = (folder / PID_FILE).read_text()
        device, resolved = (folder / DEVICE_FILE).read_text().split()
        assert int(pid) in pool.pids() and took.setdefault(int(pid), device) == device
        assert resolved == (device if torch.cuda.is_available() else "cpu")
    assert sorted(took.values()) == devices
    pools.discard(pool)


# rule: the devices come from PHASEGATE_DEVICES, else every CUDA device where there are two
# or more, else none (one GPU or a CPU: each run resolves its config's device as before); a
# name that is not a CUDA device is refused, naming it
def test_the_devices_are_listed_or_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(accel.DEVICES_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for count, expected in ((0, []), (1, []), (3, ["cuda:0", "cuda:1", "cuda:2"])):
        monkeypatch.setattr(torch.cuda, "device_count", lambda count=count: count)
        assert accel.worker_devices() == expected
    monkeypatch.setenv(accel.DEVICES_ENV, "cuda:1, cuda:3")
    assert accel.worker_devices() == ["cuda:1", "cuda:3"]
    monkeypatch.setenv(accel.DEVICES_ENV, "cuda:0,gpu1")
    with pytest.raises(ConfigError, match="'gpu1' is not a device"):
        accel.worker_devices()


# rule: in a pinned worker with CUDA, a config's auto or cuda is the worker's device, and an
# explicit cuda:N is kept; without CUDA the pin changes nothing
def test_a_pinned_worker_resolves_auto_to_its_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(accel.DEVICES_ENV, "cuda:0,cuda:1")
    monkeypatch.setattr(accel, "_PINNED", None)
    assert accel.pin(3) == "cuda:1" and accel.pinned() == "cuda:1"
    if not torch.cuda.is_available():
        assert accel.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert accel.resolve_device("auto") == torch.device("cuda:1")
    assert accel.resolve_device("cuda") == torch.device("cuda:1")
    assert accel.resolve_device("cuda:0") == torch.device("cuda:0")
    assert accel.resolve_device("cpu") == torch.device("cpu")


# rule: with more devices than the CPU would give workers, the command has one worker per
# device, so five seeds on five GPUs train at once
def test_the_command_has_a_worker_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow.runner import default_workers

    monkeypatch.delenv("PHASEGATE_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv(accel.DEVICES_ENV, raising=False)
    assert default_workers() == (2 if torch.cuda.device_count() < 3 else
                                 torch.cuda.device_count())
    monkeypatch.setenv(accel.DEVICES_ENV, ",".join(f"cuda:{i}" for i in range(5)))
    assert default_workers() == 5


# rule: a project's `devices` reach the workers of every command on it (here `status`, as any
# command naming the project); PHASEGATE_DEVICES, when set, wins; a device that is not
# cuda:N is refused when the project file is read, naming the field
def test_the_projects_devices_reach_the_command(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from tests.finalization.helpers import create
    from workflow.cli import main
    from workflow.project import ProjectConfig

    runs = tmp_path / "runs"
    store = create(tmp_path / "proj", runs, baseline=tiny_config(),
                   devices=["cuda:0", "cuda:1"])
    monkeypatch.setenv(accel.DEVICES_ENV, "")  # restored after the test, whatever is set
    monkeypatch.delenv(accel.DEVICES_ENV)
    assert main(["status", store.name, "--runs", str(runs), "--json"]) == 0
    assert os.environ[accel.DEVICES_ENV] == "cuda:0,cuda:1"
    monkeypatch.setenv(accel.DEVICES_ENV, "cuda:3")
    assert main(["status", store.name, "--runs", str(runs), "--json"]) == 0
    assert os.environ[accel.DEVICES_ENV] == "cuda:3"
    with pytest.raises(ValidationError, match="devices"):
        ProjectConfig(name="p", baseline=Path("b.yaml"), devices=["gpu0"])
