"""The config analysis: each setting that matters, its value, and a status (good, warning, missing).

A `missing` setting is a known gap (no lr schedule, no regularization, no
augmentation on images, no gradient clipping); a `warning` is a value worth a
second look (a learning rate outside its optimizer's usual range, a batch size
far from what the device or the data suit, a pretrained backbone trained at the
head's learning rate). The table reads the config, and the runs where they
tell more (the training split's size, the active probes' suggestions).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from workflow.trainer.config import TrainConfig

if TYPE_CHECKING:
    from phases.diagnostic.evidence import Evidence

__all__ = ["LR_RANGES", "SettingRow", "Status", "analyze_config", "is_image_data"]

Status = Literal["good", "warning", "missing"]

# the usual learning-rate range of each optimizer, from the field's defaults
LR_RANGES: dict[str, tuple[float, float]] = {
    "sgd": (1e-3, 0.5),
    "adam": (1e-5, 1e-2),
    "adamw": (1e-5, 1e-2),
    "rmsprop": (1e-5, 1e-2),
}
SMALL_BATCH = 16
FEW_STEPS_PER_EPOCH = 4  # a batch above a quarter of the training split
PROBE_BATCH_FACTOR = 4  # a batch this many times below the probe's suggestion
PROBE_LR_FACTOR = 3.0  # an lr this many times away from the range test's suggestion
IMAGE_MODELS = ("cnn", "resnet18", "resnet34", "vgg16")


@dataclass(frozen=True)
class SettingRow:
    setting: str
    value: str
    status: Status
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_image_data(config: TrainConfig) -> bool:
    """Images (N, C, H, W) as far as the config tells: a built-in image dataset or image model."""
    dataset = config.data.dataset
    return (
        dataset in ("digits", "imagefolder")
        or dataset.startswith("torchvision:")
        or config.model.name in IMAGE_MODELS
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def analyze_config(config: TrainConfig, evidence: Evidence | None = None) -> list[SettingRow]:
    """The table of settings, in the order a person tunes them."""
    probes = evidence.probes if evidence is not None else {}
    rows = [_optimizer(config, probes), _schedule(config), _regularization(config)]
    rows.append(_augmentation(config))
    rows.append(_grad_clip(config))
    rows.append(_batch(config, evidence, probes))
    rows.append(_early_stopping(config))
    rows.append(_pretrained(config))
    rows.append(SettingRow("training.epochs", str(config.training.epochs), "good", "see findings"))
    return rows


def _optimizer(config: TrainConfig, probes: dict[str, Any]) -> SettingRow:
    opt = config.optimizer
    low, high = LR_RANGES[opt.name]
    value = f"{opt.name}, lr {opt.lr:g}"
    suggested = (probes.get("lr_range") or {}).get("suggested_lr")
    if opt.lr > high or opt.lr < low:
        side = "above" if opt.lr > high else "below"
        note = f"{side} the usual {opt.name} range ({low:g}-{high:g})"
        return SettingRow("optimizer.lr", value, "warning", note)
    if suggested and (opt.lr > PROBE_LR_FACTOR * suggested or opt.lr < suggested / 10):
        note = f"far from the range test's suggestion {suggested:.2g}"
        return SettingRow("optimizer.lr", value, "warning", note)
    return SettingRow("optimizer.lr", value, "good", f"within the usual {opt.name} range")


def _schedule(config: TrainConfig) -> SettingRow:
    s = config.schedule
    warmup = f", warmup {s.warmup_epochs:g} epochs" if s.warmup_epochs else ""
    if s.name == "none":
        note = "no lr schedule: the lr never decays"
        return SettingRow("schedule.name", f"none{warmup}", "missing", note)
    return SettingRow("schedule.name", f"{s.name}{warmup}", "good", "the lr decays")


def _regularization(config: TrainConfig) -> SettingRow:
    wd = config.optimizer.weight_decay
    dropout = config.model.dropout
    smoothing = config.training.label_smoothing
    value = f"weight_decay {wd:g}, dropout {dropout:g}, label_smoothing {smoothing:g}"
    if wd == 0 and dropout == 0 and smoothing == 0 and not config.data.augment:
        return SettingRow("regularization", value, "missing", "no regularization of any kind")
    return SettingRow("regularization", value, "good", "some regularization")


def _augmentation(config: TrainConfig) -> SettingRow:
    names = ", ".join(a.name for a in config.data.augment) or "none"
    if not is_image_data(config):
        return SettingRow("data.augment", names, "good", "not image data: optional")
    if not config.data.augment:
        return SettingRow("data.augment", names, "missing", "images without augmentation")
    return SettingRow("data.augment", names, "good", "images are augmented")


def _grad_clip(config: TrainConfig) -> SettingRow:
    clip = config.training.grad_clip
    if clip is None:
        return SettingRow("training.grad_clip", "none", "missing", "no gradient clipping")
    return SettingRow("training.grad_clip", _fmt(clip), "good", "global norm clipped")


def _batch(
    config: TrainConfig, evidence: Evidence | None, probes: dict[str, Any]
) -> SettingRow:
    batch = config.data.batch_size
    sizes = [r.train_size for r in evidence.runs if r.train_size] if evidence is not None else []
    probe = (probes.get("batch") or {}).get("suggested_batch_size")
    if probe and batch * PROBE_BATCH_FACTOR <= probe:
        return SettingRow(
            "data.batch_size", str(batch), "warning",
            f"the device reaches its throughput at batch {probe}",
        )
    if batch < SMALL_BATCH:
        return SettingRow("data.batch_size", str(batch), "warning", "small: noisy, slow steps")
    if sizes and batch * FEW_STEPS_PER_EPOCH > min(sizes):
        return SettingRow(
            "data.batch_size", str(batch), "warning",
            f"only {math.ceil(min(sizes) / batch)} steps per epoch on {min(sizes)} samples",
        )
    return SettingRow("data.batch_size", str(batch), "good", "fits the data")


def _early_stopping(config: TrainConfig) -> SettingRow:
    es = config.training.early_stopping
    if es is None:
        return SettingRow(
            "training.early_stopping", "none", "warning",
            "every run trains all its epochs (the best checkpoint is kept)",
        )
    value = f"{es.monitor}, patience {es.patience}, min_delta {es.min_delta:g}"
    return SettingRow("training.early_stopping", value, "good", "stops a stalled run")


def _pretrained(config: TrainConfig) -> SettingRow:
    model = config.model
    if model.pretrained is None:
        return SettingRow("model.pretrained", "none", "good", "trained from scratch")
    if config.optimizer.backbone_lr is None and not config.training.stages:
        return SettingRow(
            "model.pretrained", "yes", "warning",
            "pretrained backbone trained at the head's lr (set optimizer.backbone_lr)",
        )
    return SettingRow("model.pretrained", "yes", "good", "backbone has its own lr or stages")
