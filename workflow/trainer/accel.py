"""Accelerator settings: which device, mixed precision, channels-last, torch.compile.

Each setting is a no-op where it does not apply (`auto` means "on CUDA"), so a
config written for a GPU trains unchanged on a laptop's CPU. Only `training.compile`
and an explicit `on` ask for something a CPU run may lack; they fail before any
file is written, with the setting's name.

Several GPUs: each worker of the command's pool takes one device in turn (worker i the
i-th of `worker_devices()`, modulo their count) and `pin`s it when it starts, so seeds
and trials spread over the GPUs and run at once. A config's `auto` or `cuda` then means
the worker's device; a config naming `cuda:N` keeps it; on a machine without CUDA the
pin changes nothing.
"""

from __future__ import annotations

import os
import re

import torch
from torch import nn

from workflow.errors import ConfigError
from workflow.pool import DEVICES_ENV
from workflow.trainer.config import TrainingConfig

_PINNED: str | None = None  # in a worker: the device it took (see `pin`)


def worker_devices() -> list[str]:
    """The devices the command's workers take in turn: those PHASEGATE_DEVICES lists
    (comma-separated `cuda:N`; a project's `devices` are put there by `pool.use_devices`),
    else every CUDA device where there are two or more, else none (one GPU or a CPU: each
    run resolves its config's device, as before)."""
    listed = os.environ.get(DEVICES_ENV, "").strip()
    if listed:
        devices = [part.strip() for part in listed.split(",") if part.strip()]
        bad = [d for d in devices if not re.fullmatch(r"cuda:\d+", d)]
        if bad:
            raise ConfigError(f"{DEVICES_ENV}: {', '.join(map(repr, bad))} is not a device "
                              "a worker can take (cuda:0, cuda:1, ...)")
        return devices
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(count)] if count >= 2 else []


def pin(index: int) -> str | None:
    """In the `index`-th worker of a pool: take the device that is its turn (see the module
    docstring) for every run it trains, and return it (None: no devices to take). Where
    CUDA is there it becomes the current device too, so nothing opens a context on another
    GPU."""
    global _PINNED
    devices = worker_devices()
    if not devices:
        return None
    _PINNED = devices[index % len(devices)]
    if torch.cuda.is_available():
        number = int(_PINNED.partition(":")[2])
        if number < torch.cuda.device_count():
            torch.cuda.set_device(number)
    return _PINNED


def pinned() -> str | None:
    """The device this worker took (None: not a pinned worker)."""
    return _PINNED


def resolve_device(name: str) -> torch.device:
    """The device `name` (auto, cpu, cuda, cuda:N, mps) on this machine, or a ConfigError.
    In a pinned worker on a machine with CUDA, `auto` and `cuda` are its device."""
    if name in ("auto", "cuda") and _PINNED is not None and torch.cuda.is_available():
        return resolve_device(_PINNED)
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
