"""`TrainConfig`: everything one training run needs, validated, loaded from YAML.

Torch-free, so phases can read, patch and diff configs without loading torch.
Every model forbids unknown keys: a typo is an error naming the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflow.errors import ConfigError
from workflow.io import read_yaml, validate
from workflow.metric import Metric

# Bounds a config is held to. Each is far above any real run but far below where torch,
# numpy or Python overflow, so a value past one is a typo or a hostile file: refused at
# validation (exit 2), never a crash or a hang halfway through a run.
MAX_SEED = 2**32 - 1  # numpy's and Python's seeding take 0 .. 2**32 - 1 alike
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
MAX_SAMPLES = 10**9
MAX_WORKERS = 64
MAX_IMAGE_SIZE = 1_024
MAX_WIDTH = 65_536  # units of one mlp layer
MAX_CHANNELS = 8_192  # channels of one cnn block
MAX_LAYERS = 128
MAX_LR = 1e6  # far past divergence (reported as `diverged`), far below float32 overflow
MAX_NAME = 100
MAX_PREFETCH = 64
MAX_DEVICE_INDEX = 1_023
DEFAULT_FRACTION = 0.15  # val and test shares carved where the dataset gives no such split

Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description=f"0 .. {MAX_SEED}")]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLUGIN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_CUDA_INDEX = re.compile(r"^cuda:(\d{1,4})$")


def check_seed(seed: int, field: str = "seed") -> int:
    """`seed` if it is one of the seeds every generator takes (0 .. MAX_SEED), else ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{field} must be a whole number from 0 to {MAX_SEED}, but got {seed!r}")
    return seed


def _plain_text(value: str, what: str) -> str:
    # a control character in a name or path is a corrupted or hostile file: it would break
    # the terminal's output, file names and the paths the OS is given
    if _CONTROL.search(value):
        raise ValueError(f"{what} holds a control character: {value!r}")
    return value


class _Strict(BaseModel):
    # infinity or NaN means nothing in a training config (no rate, size or strength is
    # infinite), so every float must be finite
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# ---- data -----------------------------------------------------------------


class HFlip(_Strict):
    name: Literal["hflip"]
    p: float = Field(0.5, ge=0, le=1)


class RandomCrop(_Strict):
    """Pad by `padding` pixels (zeros), then crop back to the original size at random."""

    name: Literal["random_crop"]
    padding: int = Field(2, ge=1, le=MAX_IMAGE_SIZE, description=f"1 .. {MAX_IMAGE_SIZE} px")


class Rotation(_Strict):
    name: Literal["rotation"]
    degrees: float = Field(10.0, gt=0, le=180)


class Affine(_Strict):
    name: Literal["affine"]
    degrees: float = Field(0.0, ge=0, le=180)
    translate: float = Field(0.1, ge=0, lt=1)
    scale: tuple[
        Annotated[float, Field(gt=0, le=10)], Annotated[float, Field(gt=0, le=10)]
    ] = Field((0.9, 1.1), description="(low, high) zoom factors, 0 < low <= high <= 10")

    @model_validator(mode="after")
    def _ordered_scale(self) -> Affine:
        if self.scale[0] > self.scale[1]:
            raise ValueError(f"scale must be (low, high) with low <= high, but got {self.scale}")
        return self


class ColorJitter(_Strict):
    name: Literal["color_jitter"]
    brightness: float = Field(0.2, ge=0, le=1, description="factor drawn in 1 +- brightness")
    contrast: float = Field(0.2, ge=0, le=1, description="factor drawn in 1 +- contrast")


class Blur(_Strict):
    name: Literal["blur"]
    sigma: float = Field(1.0, gt=0, le=32, description="px, at most 32 (a 129-px kernel)")
    p: float = Field(0.5, ge=0, le=1)


class Noise(_Strict):
    name: Literal["noise"]
    std: float = Field(0.1, gt=0, le=10, description="in units of the normalized input")


class Mixup(_Strict):
    name: Literal["mixup"]
    alpha: float = Field(0.2, gt=0, le=100, description="Beta(alpha, alpha), at most 100")


class Cutmix(_Strict):
    name: Literal["cutmix"]
    alpha: float = Field(1.0, gt=0, le=100, description="Beta(alpha, alpha), at most 100")


Augmentation = Annotated[
    HFlip | RandomCrop | Rotation | Affine | ColorJitter | Blur | Noise | Mixup | Cutmix,
    Field(discriminator="name"),
]
IMAGE_ONLY_AUGMENTATIONS = ("hflip", "random_crop", "rotation", "affine", "color_jitter", "blur")


FOLDER_SPLITS = ("train", "val", "test")


def folder_splits(root: str) -> list[str] | None:
    """The split folders of an image folder laid out by split (`train/` and any of `val/`,
    `test/`, nothing else), or None for a folder of class folders."""
    try:
        entries = {e.name for e in os.scandir(root) if e.is_dir()}
    except OSError:
        return None
    if "train" in entries and entries <= set(FOLDER_SPLITS):
        return [s for s in FOLDER_SPLITS if s in entries]
    return None


def given_splits(dataset: str, root: str | None) -> dict[str, str] | None:
    """The splits `dataset` gives by itself (split -> where from), where that is known
    without loading it (a function's splits are known only once it has returned)."""
    if dataset == "digits":
        return {}
    if dataset.startswith("torchvision:"):
        return {"test": "torchvision's official test split"}
    if dataset == "imagefolder" and root is not None and os.path.isdir(root):
        found = folder_splits(root) or []
        return {s: f"the {s}/ folder" for s in found if s != "train"}
    return None


class DataConfig(_Strict):
    dataset: str = Field(
        "digits",
        description="digits (bundled, offline) | torchvision:NAME (read from `root`) | "
        "imagefolder (folders of images under `root`) | module:function",
    )
    root: str | None = Field(None, description="local folder of a torchvision or image dataset")
    download: bool = Field(False, description="let torchvision download into `root`")
    image_size: int | None = Field(
        None, ge=4, le=MAX_IMAGE_SIZE,
        description=f"resize images to this square size (4 .. {MAX_IMAGE_SIZE} px)",
    )
    val_fraction: float | None = Field(
        None, gt=0, lt=0.5,
        description=f"share carved from train for validation (unset: {DEFAULT_FRACTION}); "
        "an error where the dataset gives its own val split",
    )
    test_fraction: float | None = Field(
        None, gt=0, lt=0.5,
        description=f"share held out as the test split (unset: {DEFAULT_FRACTION}); an error "
        "where the dataset gives its own test split (torchvision's official one, a test/ folder)",
    )
    split_seed: Seed = 0
    max_samples: int | None = Field(
        None, ge=10, le=MAX_SAMPLES, description="keep a subset (quick tests)"
    )
    batch_size: int = Field(64, ge=1, le=MAX_BATCH_SIZE, description=f"1 .. {MAX_BATCH_SIZE}")
    workers: int = Field(0, ge=0, le=MAX_WORKERS, description=f"0 .. {MAX_WORKERS}")
    augment: list[Augmentation] = Field(default_factory=list, max_length=32)
    loader: Literal["auto", "memory", "stream"] = Field(
        "auto",
        description="memory: decode everything once into tensors (fast for small data); "
        "stream: a DataLoader decodes files lazily each epoch; auto: stream when the decoded "
        "data would not fit `memory_budget_mb`",
    )
    memory_budget_mb: int | None = Field(
        None, ge=1, le=2**40,
        description="decoded data above this streams under `loader: auto` "
        "(unset: a quarter of this machine's memory)",
    )
    prefetch: int = Field(2, ge=1, le=MAX_PREFETCH,
                          description=f"streaming: batches each worker loads ahead (1 .. "
                          f"{MAX_PREFETCH})")
    pin_memory: Literal["auto", "on", "off"] = Field(
        "auto", description="streaming: page-locked batches for faster copies (auto: on CUDA)"
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value in ("digits", "imagefolder") or _PLUGIN.match(value):  # torchvision:NAME too
            return value
        raise ValueError(
            "unknown dataset (allowed: digits, torchvision:NAME, imagefolder, module:function)"
        )

    @field_validator("root")
    @classmethod
    def _root_is_a_path(cls, value: str | None) -> str | None:
        return None if value is None else _plain_text(value, "data.root")

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if (self.dataset == "imagefolder" or self.dataset.startswith("torchvision:")) and (
            self.root is None
        ):
            raise ValueError(f"dataset {self.dataset!r} needs `root`, a local folder")
        # where it is known here which splits the dataset gives, a fraction that applies
        # gets its default written out, and one that cannot apply is refused now
        given = given_splits(self.dataset, self.root)
        if given is not None:
            for split in ("val", "test"):
                name = f"{split}_fraction"
                if split not in given:
                    setattr(self, name, getattr(self, name) or DEFAULT_FRACTION)
                elif getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} does not apply: dataset {self.dataset!r} gives its own {split} "
                        f"split ({given[split]}); remove {name}"
                    )
        if self.val_share + self.test_share >= 0.8:
            raise ValueError("val_fraction + test_fraction must leave at least 20% to train")
        return self

    @property
    def val_share(self) -> float:
        """The share carved for validation where the dataset gives no val split."""
        return DEFAULT_FRACTION if self.val_fraction is None else self.val_fraction

    @property
    def test_share(self) -> float:
        """The share held out for testing where the dataset gives no test split."""
        return DEFAULT_FRACTION if self.test_fraction is None else self.test_fraction


# ---- model ----------------------------------------------------------------

BUILTIN_MODELS = ("mlp", "cnn", "resnet18", "resnet34", "vgg16")


class ModelConfig(_Strict):
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
        if value not in BUILTIN_MODELS and not _PLUGIN.match(value):
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


class ScheduleConfig(_Strict):
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


class EarlyStopping(_Strict):
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = Field(5, ge=1, le=MAX_EPOCHS)
    min_delta: float = Field(0.0, ge=0)

    _known_monitor = field_validator("monitor")(lambda cls, v: _check_monitor(v))


class Stage(_Strict):
    """One stage of progressive unfreezing."""

    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    train: list[str] | Literal["all"] = Field(
        description="parameter-name prefixes that train in this stage, or 'all'"
    )
    lr: float | None = Field(
        None, gt=0, le=MAX_LR, description="this stage's lr (default: optimizer.lr)"
    )
    backbone_lr: float | None = Field(None, gt=0, le=MAX_LR)


class TrainingConfig(_Strict):
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


class TrainConfig(_Strict):
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
        return _plain_text(value, "name")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        match = _CUDA_INDEX.match(value)
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
