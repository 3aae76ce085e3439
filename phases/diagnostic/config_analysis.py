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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from workflow.trainer.config import TrainConfig

if TYPE_CHECKING:
    from phases.diagnostic.evidence import Evidence
    from phases.diagnostic.rules import Finding

__all__ = ["LR_RANGES", "SettingRow", "Status", "analyze_config", "is_image_data", "reconcile"]

# findings after which a model restrained further would do worse (recommend.UNDERFIT_FINDINGS)
_UNDERFIT = frozenset({
    "underfitting", "lr_too_low", "sgd_no_momentum", "adam_betas", "too_little_capacity",
    "heavy_regularization", "frozen_layers", "few_steps", "not_converged", "input_scale",
})
# rows that ask for a restraint the model does not need while it underfits
_RESTRAINT_ROWS = ("regularization", "data.augment", "training.grad_clip")

Status = Literal["good", "warning", "missing"]
# the settings a row that sums up several reads (the others are the setting they name)
_ROW_SETTINGS = {"regularization": ("model.dropout", "optimizer.weight_decay",
                                    "training.label_smoothing"),
                 "model.capacity": ("model.widths", "model.width", "model.depth")}

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
    rows = [_optimizer(config, probes), *_optimizer_extras(config), _schedule(config),
            _regularization(config), _capacity(config)]
    rows.append(_augmentation(config))
    rows.append(_grad_clip(config))
    rows.append(_batch(config, evidence, probes))
    rows.append(_early_stopping(config))
    rows.append(_pretrained(config))
    rows.append(SettingRow("training.epochs", str(config.training.epochs), "good", "see findings"))
    if evidence is not None and evidence.own is not None:
        # a trainer's own config: only the settings one of its keys means are its own
        rows = [row for row in rows if any(evidence.declares(setting) for setting in
                                           _ROW_SETTINGS.get(row.setting, (row.setting,)))]
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


def _optimizer_extras(config: TrainConfig) -> list[SettingRow]:
    """Momentum (SGD, RMSprop) or betas (Adam): their verdicts are the findings'."""
    opt = config.optimizer
    if opt.name in ("sgd", "rmsprop"):
        return [SettingRow("optimizer.momentum", f"{opt.momentum:g}", "good", "see findings")]
    return [SettingRow("optimizer.betas", f"{opt.betas[0]:g}, {opt.betas[1]:g}", "good",
                       "see findings")]


def _capacity(config: TrainConfig) -> SettingRow:
    model = config.model
    if model.name == "mlp":
        value = f"mlp, widths {model.hidden_widths()}"
    elif model.name == "cnn":
        value = f"cnn, channels {model.channels}"
    else:
        value = model.name
    if model.freeze:
        value += f", frozen {', '.join(model.freeze)}"
    return SettingRow("model.capacity", value, "good", "see findings")


def reconcile(rows: Sequence[SettingRow], findings: Sequence[Finding]) -> list[SettingRow]:
    """The table with one verdict per setting: the findings' where they judge a setting.

    A finding names the settings it judges (`Rule.settings`): their rows become warnings
    that name it (a row the table lacks is added). While the model underfits and does not
    overfit, a missing regularization, augmentation or clipping is not a gap: those rows
    say so, and config_gaps leaves them out.
    """
    from phases.diagnostic.rules import rule_for

    out = list(rows)
    index = {row.setting: i for i, row in enumerate(out)}
    ids = {f.id for f in findings}
    if ids & _UNDERFIT and "overfitting" not in ids:
        why = ", ".join(sorted(ids & _UNDERFIT))
        for name in _RESTRAINT_ROWS:
            i = index.get(name)
            if i is not None and out[i].status != "good":
                out[i] = replace(out[i], status="good",
                                 note=f"not needed while the model underfits ({why})")
    judged: set[str] = set()
    for finding in findings:
        for setting in rule_for(finding.id).settings:
            note = f"{finding.title} ({finding.id}, {finding.severity})"
            i = index.get(setting)
            if i is None:
                index[setting] = len(out)
                out.append(SettingRow(setting, "see finding", "warning", note))
            elif setting in judged:  # a second finding on the same setting: both named
                out[i] = replace(out[i], note=f"{out[i].note}; {note}")
            else:
                out[i] = replace(out[i], status="warning", note=note)
            judged.add(setting)
    return out


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
