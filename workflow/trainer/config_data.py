"""`DataConfig`: which dataset, how it is split, augmented and loaded (torch-free).

`workflow.trainer.config` re-exports every name here; `TrainConfig.data` is one.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from workflow.trainer.config_base import (
    DEFAULT_FRACTION,
    MAX_BATCH_SIZE,
    MAX_IMAGE_SIZE,
    MAX_PREFETCH,
    MAX_SAMPLES,
    MAX_WORKERS,
    PLUGIN,
    Seed,
    Strict,
    plain_text,
)


class HFlip(Strict):
    name: Literal["hflip"]
    p: float = Field(0.5, ge=0, le=1)


class RandomCrop(Strict):
    """Pad by `padding` pixels (zeros), then crop back to the original size at random."""

    name: Literal["random_crop"]
    padding: int = Field(2, ge=1, le=MAX_IMAGE_SIZE, description=f"1 .. {MAX_IMAGE_SIZE} px")


class Rotation(Strict):
    name: Literal["rotation"]
    degrees: float = Field(10.0, gt=0, le=180)


class Affine(Strict):
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


class ColorJitter(Strict):
    name: Literal["color_jitter"]
    brightness: float = Field(0.2, ge=0, le=1, description="factor drawn in 1 +- brightness")
    contrast: float = Field(0.2, ge=0, le=1, description="factor drawn in 1 +- contrast")


class Blur(Strict):
    name: Literal["blur"]
    sigma: float = Field(1.0, gt=0, le=32, description="px, at most 32 (a 129-px kernel)")
    p: float = Field(0.5, ge=0, le=1)


class Noise(Strict):
    name: Literal["noise"]
    std: float = Field(0.1, gt=0, le=10, description="in units of the normalized input")


class Mixup(Strict):
    name: Literal["mixup"]
    alpha: float = Field(0.2, gt=0, le=100, description="Beta(alpha, alpha), at most 100")


class Cutmix(Strict):
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


class DataConfig(Strict):
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
        if value in ("digits", "imagefolder") or PLUGIN.match(value):  # torchvision:NAME too
            return value
        raise ValueError(
            "unknown dataset (allowed: digits, torchvision:NAME, imagefolder, module:function)"
        )

    @field_validator("root")
    @classmethod
    def _root_is_a_path(cls, value: str | None) -> str | None:
        return None if value is None else plain_text(value, "data.root")

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
