"""`TrainConfig`: everything one training run needs, validated, loaded from YAML.

Torch-free, so phases can read, patch and diff configs without loading torch.
Every model forbids unknown keys: a typo is an error naming the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from workflow.errors import ConfigError
from workflow.io import read_yaml, validate
from workflow.metric import Metric
from workflow.trainer.config_base import (
    CUDA_INDEX,
    DEFAULT_FRACTION,
    MAX_BATCH_SIZE,
    MAX_CHANNELS,
    MAX_DEVICE_INDEX,
    MAX_EPOCHS,
    MAX_IMAGE_SIZE,
    MAX_LAYERS,
    MAX_LR,
    MAX_NAME,
    MAX_PREFETCH,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_WIDTH,
    MAX_WORKERS,
    PLUGIN,
    Seed,
    Strict,
    check_seed,
    plain_text,
)
from workflow.trainer.config_data import (
    FOLDER_SPLITS,
    IMAGE_ONLY_AUGMENTATIONS,
    Affine,
    Augmentation,
    Blur,
    ColorJitter,
    Cutmix,
    DataConfig,
    HFlip,
    Mixup,
    Noise,
    RandomCrop,
    Rotation,
    folder_splits,
    given_splits,
)

__all__ = [
    "BUILTIN_MODELS", "DEFAULT_FRACTION", "FOLDER_SPLITS", "IMAGE_ONLY_AUGMENTATIONS",
    "MAX_BATCH_SIZE", "MAX_CHANNELS", "MAX_DEVICE_INDEX", "MAX_EPOCHS", "MAX_IMAGE_SIZE",
    "MAX_LAYERS", "MAX_LR", "MAX_NAME", "MAX_PREFETCH", "MAX_SAMPLES", "MAX_SEED", "MAX_WIDTH",
    "MAX_WORKERS", "METRICS", "MONITORS", "Affine", "Augmentation", "Blur", "ColorJitter",
    "Cutmix", "DataConfig", "EarlyStopping", "HFlip", "Mixup", "ModelConfig", "Noise",
    "OptimizerConfig", "RandomCrop", "Rotation", "ScheduleConfig", "Seed", "Stage", "Strict",
    "TrainConfig", "TrainingConfig", "check_seed", "folder_splits", "given_splits",
    "load_train_config", "plain_text",
]


# ---- model ----------------------------------------------------------------

BUILTIN_MODELS = ("mlp", "cnn", "resnet18", "resnet34", "vgg16")


class ModelConfig(Strict):
    name: str = Field(
        "mlp", description="mlp | cnn | resnet18 | resnet34 | vgg16 | module:function"
    )
    widths: list[Annotated[int, Field(ge=1, le=MAX_WIDTH)]] | None = Field(
        None, max_length=MAX_LAYERS,
        description=f"mlp hidden widths (each 1 .. {MAX_WIDTH}, at most {MAX_LAYERS} layers); "
        "or give `width` and `depth`",
    )
    width: int = Field(128, ge=1, le=MAX_WIDTH, description=f"1 .. {MAX_WIDTH}")
    depth: int = Field(2, ge=0, le=MAX_LAYERS, description=f"0 .. {MAX_LAYERS}")
    channels: list[Annotated[int, Field(ge=1, le=MAX_CHANNELS)]] = Field(
        default_factory=lambda: [32, 64], min_length=1, max_length=MAX_LAYERS,
        description=f"cnn: channels of each conv block (each 1 .. {MAX_CHANNELS})",
    )
    dropout: float = Field(0.0, ge=0, lt=1)
    pretrained: str | None = Field(None, description="local weights file for torchvision models")
    freeze: list[str] = Field(
        default_factory=list, description="parameter-name prefixes frozen for the whole run"
    )
    head: list[str] | None = Field(
        None, description="parameter-name prefixes of the head (default: the model's last layer)"
    )
    kwargs: dict[str, Any] = Field(default_factory=dict, description="for module:function models")

    @field_validator("name")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in BUILTIN_MODELS and not PLUGIN.match(value):
            raise ValueError(
                f"unknown model (allowed: {', '.join(BUILTIN_MODELS)}, module:function)"
            )
        return value

    @field_validator("pretrained")
    @classmethod
    def _weights_exist(cls, value: str | None) -> str | None:
        if value is not None and not os.path.isfile(value):
            raise ValueError("pretrained weights file does not exist")
        return value

    def hidden_widths(self) -> list[int]:
        return list(self.widths) if self.widths is not None else [self.width] * self.depth


# ---- optimizer and schedule ------------------------------------------------


class OptimizerConfig(Strict):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    lr: float = Field(1e-3, gt=0, le=MAX_LR, description=f"above 0, at most {MAX_LR}")
    weight_decay: float = Field(0.0, ge=0, le=1, description="0 .. 1")
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd and rmsprop")
    nesterov: bool = False
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (
        Field((0.9, 0.999), description="adam and adamw: each in [0, 1)")
    )
    backbone_lr: float | None = Field(
        None, gt=0, le=MAX_LR,
        description="lr of everything but the head (differential learning rates)",
    )

    @model_validator(mode="after")
    def _check(self) -> OptimizerConfig:
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs optimizer sgd with momentum > 0")
        return self


class ScheduleConfig(Strict):
    name: Literal["none", "step", "cosine", "linear", "plateau", "onecycle"] = "none"
    warmup_epochs: float = Field(
        0.0, ge=0, le=MAX_EPOCHS, description="linear warmup from ~0 to the lr"
    )
    step_epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description="step: epochs between decays")
    gamma: float = Field(0.1, gt=0, le=1, description="step: decay factor")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="cosine/linear: final lr / lr")
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(3, ge=0, le=MAX_EPOCHS)
    max_lr_ratio: float = Field(10.0, ge=1, le=1000, description="onecycle: peak lr / lr")


# ---- training -------------------------------------------------------------

METRICS = ("loss", "accuracy", "balanced_accuracy", "macro_f1")
MONITORS = tuple(f"{split}_{m}" for split in ("val", "train") for m in METRICS)


def _check_monitor(value: str) -> str:
    if value not in MONITORS:
        raise ValueError(f"unknown monitor (allowed: {', '.join(MONITORS)})")
    return value


class EarlyStopping(Strict):
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = Field(5, ge=1, le=MAX_EPOCHS)
    min_delta: float = Field(0.0, ge=0)

    _known_monitor = field_validator("monitor")(lambda cls, v: _check_monitor(v))


class Stage(Strict):
    """One stage of progressive unfreezing."""

    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    train: list[str] | Literal["all"] = Field(
        description="parameter-name prefixes that train in this stage, or 'all'"
    )
    lr: float | None = Field(
        None, gt=0, le=MAX_LR, description="this stage's lr (default: optimizer.lr)"
    )
    backbone_lr: float | None = Field(None, gt=0, le=MAX_LR)


class TrainingConfig(Strict):
    epochs: int = Field(20, ge=1, le=MAX_EPOCHS, description=f"1 .. {MAX_EPOCHS}")
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    early_stopping: EarlyStopping | None = None
    monitor: str = Field("val_accuracy", description="metric that picks the best epoch")
    mixed_precision: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: on for CUDA, off elsewhere"
    )
    stages: list[Stage] | None = Field(
        None, max_length=MAX_LAYERS, description="progressive unfreezing, in order"
    )
    channels_last: Literal["auto", "on", "off"] = Field(
        "auto", description="channels-last memory format for conv models (auto: on CUDA)"
    )
    compile: bool = Field(False, description="torch.compile the model (needs a C compiler)")

    _known_monitor = field_validator("monitor")(lambda cls, v: _check_monitor(v))

    @model_validator(mode="after")
    def _check(self) -> TrainingConfig:
        if self.stages:
            total = sum(stage.epochs for stage in self.stages)
            if total > MAX_EPOCHS:
                raise ValueError(f"the stages add up to {total} epochs, over {MAX_EPOCHS}")
            self.epochs = total
        return self

    @property
    def monitored(self) -> Metric:
        """The monitor as a Metric: which way is better, and which epoch is best."""
        return Metric.named(self.monitor)


class TrainConfig(Strict):
    """A training run: data, model, optimizer, schedule, training, seed, device."""

    name: str = Field("run", min_length=1, max_length=MAX_NAME)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    seed: Seed = 0
    device: str = Field(
        "auto", description="auto | cpu | cuda | cuda:N (the N-th GPU) | mps"
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_text(value, "name")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        match = CUDA_INDEX.match(value)
        if value in ("auto", "cpu", "cuda", "mps") or (
            match and int(match.group(1)) <= MAX_DEVICE_INDEX
        ):
            return value
        raise ValueError(
            f"unknown device (allowed: auto, cpu, cuda, cuda:N with N 0 .. {MAX_DEVICE_INDEX}, "
            "mps)"
        )

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def with_changes(self, changes: dict[str, Any], *, source: str = "changes") -> TrainConfig:
        """A copy with dotted-path `changes` applied (`{"optimizer.lr": 0.01}`), re-validated."""
        data = self.model_dump(mode="json")
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for depth, part in enumerate(parents):
                if node.get(part) is None:  # an unset section (early_stopping): its defaults
                    node[part] = {}
                node = node[part]
                if not isinstance(node, dict):
                    where = ".".join(parents[: depth + 1])
                    raise ConfigError(
                        f"{source}: {dotted}: {where} is a value, not a section of settings"
                    )
            node[leaf] = value
        return validate(data, TrainConfig, source=source)


def load_train_config(path: str | Path) -> TrainConfig:
    """Load a training config; relative file paths inside it resolve against its folder."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if isinstance(data, dict):
        for section, key in (("data", "root"), ("model", "pretrained")):
            part = data.get(section)
            if isinstance(part, dict) and isinstance(part.get(key), str):
                value = os.path.expanduser(part[key])
                if not os.path.isabs(value):
                    part[key] = str((path.parent / value).resolve())
    return validate(data, TrainConfig, source=str(path))
