"""Accelerator settings: which device, mixed precision, channels-last, torch.compile.

Each setting is a no-op where it does not apply (`auto` means "on CUDA"), so a
config written for a GPU trains unchanged on a laptop's CPU. Only `training.compile`
and an explicit `on` ask for something a CPU run may lack; they fail before any
file is written, with the setting's name.
"""

from __future__ import annotations

import torch
from torch import nn

from workflow.errors import ConfigError
from workflow.trainer.config import TrainingConfig


def resolve_device(name: str) -> torch.device:
    """The device `name` (auto, cpu, cuda, cuda:N, mps) on this machine, or a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(kind, False):
        have = ", ".join(k for k, ok in available.items() if ok)
        raise ConfigError(f"device: {name} is not available on this machine (available: {have})")
    if index and int(index) >= torch.cuda.device_count():
        raise ConfigError(f"device: {name}: this machine has {torch.cuda.device_count()} "
                          f"CUDA device(s), cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    return torch.device(name)


def amp_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bfloat16 where the GPU has it, else float16 (with the scaler)."""
    if setting == "off" or (setting == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16
    return None  # mps: autocast support is partial, train in full precision


def has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prepare(model: nn.Module, training: TrainingConfig, device: torch.device) -> nn.Module:
    """The module the loop calls: `model` in channels-last where it helps, compiled if asked.

    The returned module shares `model`'s parameters; checkpoints are saved from `model`
    itself, so their keys never carry the compiler's wrapper prefix.
    """
    setting = training.channels_last
    if has_conv(model) and (setting == "on" or (setting == "auto" and device.type == "cuda")):
        # convolutions pick the channels-last kernels from the weights' layout
        model.to(memory_format=torch.channels_last)
    if not training.compile:
        return model
    try:
        return torch.compile(model)  # type: ignore[return-value]
    except Exception as exc:  # the backend is missing or refuses this model
        raise ConfigError(f"training.compile: torch.compile failed: {exc}") from None
