"""`TrainConfig`: everything one training run needs, validated, loaded from YAML.

Torch-free, so phases can read, patch and diff configs without loading torch.
Every model forbids unknown keys: a typo is an error naming the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflow.io import read_yaml, validate
from workflow.metric import Metric


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- data -----------------------------------------------------------------


class HFlip(_Strict):
    name: Literal["hflip"]
    p: float = Field(0.5, ge=0, le=1)


class RandomCrop(_Strict):
    """Pad by `padding` pixels (zeros), then crop back to the original size at random."""

    name: Literal["random_crop"]
    padding: int = Field(2, ge=1)


class Rotation(_Strict):
    name: Literal["rotation"]
    degrees: float = Field(10.0, gt=0, le=180)


class Affine(_Strict):
    name: Literal["affine"]
    degrees: float = Field(0.0, ge=0, le=180)
    translate: float = Field(0.1, ge=0, lt=1)
    scale: tuple[float, float] = (0.9, 1.1)


class ColorJitter(_Strict):
    name: Literal["color_jitter"]
    brightness: float = Field(0.2, ge=0)
    contrast: float = Field(0.2, ge=0)


class Blur(_Strict):
    name: Literal["blur"]
    sigma: float = Field(1.0, gt=0)
    p: float = Field(0.5, ge=0, le=1)


class Noise(_Strict):
    name: Literal["noise"]
    std: float = Field(0.1, gt=0)


class Mixup(_Strict):
    name: Literal["mixup"]
    alpha: float = Field(0.2, gt=0)


class Cutmix(_Strict):
    name: Literal["cutmix"]
    alpha: float = Field(1.0, gt=0)


Augmentation = Annotated[
    HFlip | RandomCrop | Rotation | Affine | ColorJitter | Blur | Noise | Mixup | Cutmix,
    Field(discriminator="name"),
]
IMAGE_ONLY_AUGMENTATIONS = ("hflip", "random_crop", "rotation", "affine", "color_jitter", "blur")


class DataConfig(_Strict):
    dataset: str = Field(
        "digits",
        description="digits (bundled, offline) | torchvision:NAME (read from `root`) | "
        "imagefolder (folders of images under `root`) | module:function",
    )
    root: str | None = Field(None, description="local folder of a torchvision or image dataset")
    download: bool = Field(False, description="let torchvision download into `root`")
    image_size: int | None = Field(None, ge=4, description="resize images to this square size")
    val_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    split_seed: int = 0
    max_samples: int | None = Field(None, ge=10, description="keep a subset (quick tests)")
    batch_size: int = Field(64, ge=1)
    workers: int = Field(0, ge=0)
    augment: list[Augmentation] = Field(default_factory=list)

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value not in ("digits", "imagefolder") and ":" not in value:
            raise ValueError(
                "unknown dataset (allowed: digits, torchvision:NAME, imagefolder, module:function)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if (self.dataset == "imagefolder" or self.dataset.startswith("torchvision:")) and (
            self.root is None
        ):
            raise ValueError(f"dataset {self.dataset!r} needs `root`, a local folder")
        if self.val_fraction + self.test_fraction >= 0.8:
            raise ValueError("val_fraction + test_fraction must leave at least 20% to train")
        return self


# ---- model ----------------------------------------------------------------

BUILTIN_MODELS = ("mlp", "cnn", "resnet18", "resnet34", "vgg16")


class ModelConfig(_Strict):
    name: str = Field(
        "mlp", description="mlp | cnn | resnet18 | resnet34 | vgg16 | module:function"
    )
    widths: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, description="mlp hidden widths; or give `width` and `depth`"
    )
    width: int = Field(128, ge=1)
    depth: int = Field(2, ge=0)
    channels: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [32, 64], description="cnn: channels of each conv block"
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
        if value not in BUILTIN_MODELS and ":" not in value:
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


class OptimizerConfig(_Strict):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd and rmsprop")
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    backbone_lr: float | None = Field(
        None, gt=0, description="lr of everything but the head (differential learning rates)"
    )

    @model_validator(mode="after")
    def _check(self) -> OptimizerConfig:
        if self.nesterov and (self.name != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs optimizer sgd with momentum > 0")
        return self


class ScheduleConfig(_Strict):
    name: Literal["none", "step", "cosine", "linear", "plateau", "onecycle"] = "none"
    warmup_epochs: float = Field(0.0, ge=0, description="linear warmup from ~0 to the lr")
    step_epochs: int = Field(10, ge=1, description="step: epochs between decays")
    gamma: float = Field(0.1, gt=0, le=1, description="step: decay factor")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="cosine/linear: final lr / lr")
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(3, ge=0)
    max_lr_ratio: float = Field(10.0, ge=1, description="onecycle: peak lr / lr")


# ---- training -------------------------------------------------------------

METRICS = ("loss", "accuracy", "balanced_accuracy", "macro_f1")
MONITORS = tuple(f"{split}_{m}" for split in ("val", "train") for m in METRICS)


def _check_monitor(value: str) -> str:
    if value not in MONITORS:
        raise ValueError(f"unknown monitor (allowed: {', '.join(MONITORS)})")
    return value


class EarlyStopping(_Strict):
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = Field(5, ge=1)
    min_delta: float = Field(0.0, ge=0)

    _known_monitor = field_validator("monitor")(lambda cls, v: _check_monitor(v))


class Stage(_Strict):
    """One stage of progressive unfreezing."""

    epochs: int = Field(ge=1)
    train: list[str] | Literal["all"] = Field(
        description="parameter-name prefixes that train in this stage, or 'all'"
    )
    lr: float | None = Field(None, gt=0, description="this stage's lr (default: optimizer.lr)")
    backbone_lr: float | None = Field(None, gt=0)


class TrainingConfig(_Strict):
    epochs: int = Field(20, ge=1)
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    early_stopping: EarlyStopping | None = None
    monitor: str = Field("val_accuracy", description="metric that picks the best epoch")
    mixed_precision: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: on for CUDA, off elsewhere"
    )
    stages: list[Stage] | None = Field(None, description="progressive unfreezing, in order")

    _known_monitor = field_validator("monitor")(lambda cls, v: _check_monitor(v))

    @model_validator(mode="after")
    def _check(self) -> TrainingConfig:
        if self.stages:
            self.epochs = sum(stage.epochs for stage in self.stages)
        return self

    @property
    def monitored(self) -> Metric:
        """The monitor as a Metric: which way is better, and which epoch is best."""
        return Metric.named(self.monitor)


class TrainConfig(_Strict):
    """A training run: data, model, optimizer, schedule, training, seed, device."""

    name: str = "run"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def with_changes(self, changes: dict[str, Any], *, source: str = "changes") -> TrainConfig:
        """A copy with dotted-path `changes` applied (`{"optimizer.lr": 0.01}`), re-validated."""
        data = self.model_dump(mode="json")
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for part in parents:
                node = node.setdefault(part, {})
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
