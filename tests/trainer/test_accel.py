"""Accelerator settings are safe on a CPU: each GPU-only setting is a no-op or a clear error.

No test here needs a GPU; the GPU paths themselves are checked by hand on one (see the
README's "Data larger than memory, and GPUs").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tests.conftest import tiny_config
from workflow.errors import ConfigError
from workflow.io import validate
from workflow.trainer import RunStatus, fit
from workflow.trainer.accel import amp_dtype, prepare, resolve_device
from workflow.trainer.config import TrainConfig, TrainingConfig


def test_a_device_index_is_a_valid_setting_and_refused_where_absent() -> None:
    # cuda:N names one GPU of several; a machine without it says so in one line
    assert TrainConfig(device="cuda:1").device == "cuda:1"
    for bad in ("gpu", "cuda:x", "cuda:", "cuda:99999", "cpu:0"):
        with pytest.raises(ConfigError, match="unknown device"):
            validate({"device": bad}, TrainConfig, source="config")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device: cuda:1 is not available on this machine"):
            resolve_device("cuda:1")
    elif torch.cuda.device_count() < 2:
        with pytest.raises(ConfigError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_auto_settings_do_nothing_on_a_cpu() -> None:
    # auto means "on CUDA": a GPU config trains unchanged on a laptop
    cpu = torch.device("cpu")
    assert amp_dtype("auto", cpu) is None
    assert amp_dtype("on", cpu) is torch.bfloat16
    conv = nn.Conv2d(1, 4, 3)
    model = nn.Sequential(conv, nn.Flatten())
    assert prepare(model, TrainingConfig(), cpu) is model
    assert conv.weight.is_contiguous()  # not channels-last


def test_channels_last_on_trains_a_cnn_on_the_cpu(tmp_path: Path) -> None:
    # channels-last asked for by hand: the conv weights take the layout, and the run completes
    config = tiny_config(model={"name": "cnn", "channels": [4]},
                         training={"epochs": 1, "channels_last": "on"})
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.COMPLETED
    saved = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=False)
    conv = next(v for k, v in saved["model"].items() if v.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_compile_trains_through_the_compiled_module_and_saves_plain_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the loop calls what torch.compile returns; checkpoints come from the model itself, so
    # their keys never carry the compiler's wrapper prefix
    calls: list[int] = []

    class Wrapper(nn.Module):  # what torch.compile returns: the model under `_orig_mod`
        def __init__(self, model: nn.Module):
            super().__init__()
            self._orig_mod = model

        def forward(self, x: torch.Tensor) -> Any:
            calls.append(len(x))
            return self._orig_mod(x)

    monkeypatch.setattr(torch, "compile", Wrapper)
    fit(tiny_config(training={"epochs": 1, "compile": True}), 0, tmp_path / "run")
    assert calls  # training and evaluation went through the compiled module
    saved = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=False)
    assert not [k for k in saved["model"] if k.startswith("_orig_mod")]


def test_a_compiler_that_fails_is_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model: nn.Module) -> nn.Module:
        raise RuntimeError("no C compiler")

    monkeypatch.setattr(torch, "compile", broken)
    with pytest.raises(ConfigError, match="training.compile: torch.compile failed: no C compiler"):
        prepare(nn.Linear(2, 2), TrainingConfig(compile=True), torch.device("cpu"))
