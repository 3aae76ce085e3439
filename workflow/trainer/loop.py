"""The training loop behind `workflow.trainer.fit`.

Reads top to bottom: validate and load everything that can fail on bad input,
then train epoch by epoch, then write the run. The run is written into a
staging folder and renamed into place at the end, so a killed run leaves no
half-written `out_dir`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from workflow.errors import ConfigError
from workflow.trainer.accel import amp_dtype as _amp_dtype
from workflow.trainer.accel import prepare, resolve_device
from workflow.trainer.augment import BatchAugmenter
from workflow.trainer.config import Stage, TrainConfig, load_train_config
from workflow.trainer.data import Split, load_data
from workflow.trainer.metrics import classification_metrics, confusion
from workflow.trainer.models import build_model, matches
from workflow.trainer.optim import make_optimizer as make_optimizer  # together.py, probe.py
from workflow.trainer.result import RunResult, RunStatus
from workflow.trainer.run_folder import open_staging, seal, write_trained
from workflow.trainer.schedule import LrSchedule
from workflow.trainer.streaming import StreamSplit

EVAL_BATCH = 1024
# a loss this many times its first value (or non-finite) means the run diverged
EXPLOSION_FACTOR = 1000.0


def fit(
    config: TrainConfig | dict[str, Any] | str | Path,
    seed: int,
    out_dir: str | Path,
    *,
    report: Callable[[int, dict[str, float]], None] | None = None,
    should_stop: Callable[[], str | bool | None] | None = None,
) -> RunResult:
    config = _as_config(config).model_copy(update={"seed": seed})
    out_dir = Path(out_dir)
    started = time.perf_counter()

    # everything a bad config can break happens before anything is written
    device = resolve_device(config.device)
    data = load_data(config.data)
    torch.manual_seed(seed)
    model, head = build_model(config.model, data.input_shape, data.num_classes)
    model.to(device)
    forward = prepare(model, config.training, device)  # channels-last, compiled: same weights
    stages = config.training.stages or [Stage(epochs=config.training.epochs, train="all")]
    optimizer = _optimizer(config, model, head)
    train, val = data.train.to(device), data.val.to(device)
    steps_per_epoch = math.ceil(len(train) / config.data.batch_size)
    schedule = LrSchedule(config.schedule, steps_per_epoch, config.training.epochs)
    augment = BatchAugmenter(config.data.augment, data.num_classes, seed + 1)
    shuffle = torch.Generator().manual_seed(seed)
    amp_dtype = _amp_dtype(config.training.mixed_precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    autocast = (
        (lambda: torch.autocast(device.type, dtype=amp_dtype))
        if amp_dtype is not None
        else nullcontext
    )
    parameters = list(model.parameters())

    try:
        staging = open_staging(out_dir, config.to_yaml())
    except OSError as exc:  # out_dir under a file, or on a read-only disk
        raise ConfigError(f"{out_dir}: the run folder cannot be created ({exc.strerror})") from None

    training = config.training
    monitored_metric = training.monitored
    mode = monitored_metric.mode
    history: list[dict[str, float]] = []
    stage_log: list[dict[str, Any]] = []
    status, stop_reason, diverged_at = RunStatus.COMPLETED, None, None
    best_value, best_epoch, best_state, best_predictions = None, None, None, None
    stopper = _EarlyStopper(training.early_stopping) if training.early_stopping else None
    step, epoch = 0, 0
    first_loss: float | None = None
    train_time, train_samples = 0.0, 0

    for stage_index, stage in enumerate(stages, start=1):
        stage_log.append(_enter_stage(model, optimizer, config, stage, stage_index, epoch, head))
        lr_stale = True
        for _ in range(stage.epochs):
            epoch += 1
            model.train()
            epoch_start = time.perf_counter()
            wait = 0.0
            order = torch.randperm(len(train), generator=shuffle).to(device)
            chunks = list(order.split(config.data.batch_size))
            if len(chunks) > 1 and len(chunks[-1]) == 1:
                chunks.pop()  # batch norm cannot train on a batch of one
            sizes = [len(c) for c in chunks]
            losses: list[torch.Tensor] = []
            tally = _Tally()
            batches = train.batches(chunks)  # in memory: indexing; streaming: a DataLoader
            for _ in chunks:
                fetch = time.perf_counter()
                x, y = next(batches)
                target: torch.Tensor = y
                if augment:
                    x, target = augment(x, y)
                wait += time.perf_counter() - fetch
                if schedule.varies or lr_stale:
                    factor = schedule.factor(step)
                    for group in optimizer.param_groups:
                        group["lr"] = group["base_lr"] * factor
                    lr_stale = False
                with autocast():
                    logits = forward(x)
                    loss = F.cross_entropy(logits, target, label_smoothing=training.label_smoothing)
                # flush the gradients as soon as we can, no need for this memory anymore
                optimizer.zero_grad(set_to_none=True)
                if scaler.is_enabled():  # float16 only: scale the loss so gradients stay finite
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if training.grad_clip is not None:
                    nn.utils.clip_grad_norm_(parameters, training.grad_clip)
                if scaler.is_enabled():
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                losses.append(loss.detach())
                tally.add(logits, y)
                step += 1
            train_seconds = time.perf_counter() - epoch_start
            n_seen = sum(sizes)
            train_time += train_seconds
            train_samples += n_seen

            # one sync per epoch, not one per step: every step's loss at once, checked here
            step_losses = torch.stack(losses).tolist()
            if first_loss is None:
                first_loss = step_losses[0]
            limit = EXPLOSION_FACTOR * max(first_loss, 1.0) if math.isfinite(first_loss) else 0.0
            bad = next((i for i, v in enumerate(step_losses)
                        if not math.isfinite(v) or v > limit), None)
            if bad is not None:
                value = step_losses[bad]
                status = RunStatus.DIVERGED
                diverged_at = {
                    "epoch": epoch,
                    "step": bad + 1,
                    "global_step": step - len(chunks) + bad + 1,
                    "loss": str(value),
                }
                what = f"became {value}" if not math.isfinite(value) else f"exploded to {value:.3g}"
                stop_reason = f"loss {what} at epoch {epoch}, step {bad + 1}"
                break

            val_loss, val_pred = evaluate(forward, val, data.num_classes, autocast)
            # train and val metrics back to back: the second pass finds its code warm
            train_metrics = classification_metrics(tally.confusion(data.num_classes))
            val_metrics = classification_metrics(confusion(val.y, val_pred, data.num_classes))
            epoch_time = time.perf_counter() - epoch_start
            row: dict[str, float] = {
                "epoch": epoch,
                "stage": stage_index,
                "lr": optimizer.param_groups[-1]["lr"],
                "train_loss": sum(v * n for v, n in zip(step_losses, sizes, strict=True)) / n_seen,
                **{f"train_{k}": v for k, v in train_metrics.items()},
                "val_loss": val_loss,
                **{f"val_{k}": v for k, v in val_metrics.items()},
                "epoch_time": epoch_time,
                "samples_per_sec": n_seen / train_seconds if train_seconds > 0 else 0.0,
                "data_wait_fraction": wait / train_seconds if train_seconds > 0 else 0.0,
            }
            history.append(row)
            if not math.isfinite(val_loss):
                status, diverged_at = RunStatus.DIVERGED, {"epoch": epoch, "step": len(chunks)}
                stop_reason = f"validation loss became {val_loss} at epoch {epoch}"
                break

            monitored = row[training.monitor]
            if best_value is None or monitored_metric.better(monitored, best_value):
                best_value, best_epoch = monitored, epoch
                best_state = _snapshot(model, optimizer, schedule, epoch)
                best_predictions = val_pred.cpu()
            lr_stale = schedule.end_epoch(monitored, mode) or lr_stale
            if report is not None:
                report(epoch, row)
            if stopper is not None and (reason := stopper.update(row)):
                status, stop_reason = RunStatus.EARLY_STOPPED, reason
                break
            if should_stop is not None and (verdict := should_stop()):
                status = RunStatus.PRUNED
                stop_reason = verdict if isinstance(verdict, str) else "stopped by the caller"
                break
        if status is not RunStatus.COMPLETED:
            break

    # ---- write the run, then move it into place ----
    meta = {
        "config": config.model_dump(mode="json"),
        "class_names": data.class_names,
        "input_shape": list(data.input_shape),
        "normalization": data.normalization,
        "head": head,
    }
    last = _snapshot(model, optimizer, schedule, epoch)
    checkpoints, predictions_path = write_trained(
        staging, out_dir, states={"last": last, "best": best_state}, meta=meta,
        val_targets=val.y.cpu(), best_predictions=best_predictions, history=history)
    best_row = next((r for r in history if r["epoch"] == best_epoch), {})
    result = RunResult(
        status=status,
        seed=seed,
        history=history,
        best_epoch=best_epoch,
        best=_metrics_only(best_row),
        final=_metrics_only(history[-1]) if history else {},
        monitor=training.monitor,
        wall_time_s=time.perf_counter() - started,
        samples_per_sec=train_samples / train_time if train_time > 0 else 0.0,
        checkpoints=checkpoints,
        predictions_path=predictions_path,
        stop_reason=stop_reason,
        diverged_at=diverged_at,
        extra={
            "epochs_run": len(history),
            "device": str(device),
            "mixed_precision": str(amp_dtype).replace("torch.", "") if amp_dtype else "off",
            "split": data.split_info,
            "loader": data.loader.to_dict() if data.loader else None,
            "stages": stage_log,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
    )
    seal(staging, out_dir, result)
    return result


# ---- pieces of the loop ----------------------------------------------------


def _as_config(config: TrainConfig | dict[str, Any] | str | Path) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        from workflow.io import validate

        return validate(config, TrainConfig, source="config")
    return load_train_config(config)


def _optimizer(config: TrainConfig, model: nn.Module, head: list[str]) -> torch.optim.Optimizer:
    """One parameter group, or two (backbone and head) when they need their own lr.

    Each group costs a pass of the optimizer's per-step Python, so a second group
    exists only for differential learning rates.
    """
    c = config.optimizer
    stages = config.training.stages or []
    split = c.backbone_lr is not None or any(s.backbone_lr is not None for s in stages)
    groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []} if split else {"all": []}
    for name, param in model.named_parameters():
        if not split:
            groups["all"].append(param)
        else:
            groups["head" if any(matches(name, p) for p in head) else "backbone"].append(param)
    param_groups = [
        {"params": params, "name": name, "lr": c.lr, "base_lr": c.lr}
        for name, params in groups.items()
        if params
    ]
    return make_optimizer(config, param_groups, lr=c.lr)


def _enter_stage(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    stage: Stage,
    index: int,
    epoch: int,
    head: list[str],
) -> dict[str, Any]:
    """Set which parameters train and each group's lr for this stage; return its record."""
    trainable = []
    for name, param in model.named_parameters():
        frozen = any(matches(name, p) for p in config.model.freeze)
        chosen = stage.train == "all" or any(matches(name, p) for p in stage.train)
        param.requires_grad_(chosen and not frozen)
        if param.requires_grad:
            trainable.append(name)
        # a frozen parameter keeps no stale gradient that an optimizer could apply
        param.grad = None
    lr = stage.lr or config.optimizer.lr
    backbone_lr = stage.backbone_lr or config.optimizer.backbone_lr or lr
    for group in optimizer.param_groups:
        group["base_lr"] = backbone_lr if group["name"] == "backbone" else lr
    return {
        "stage": index,
        "first_epoch": epoch + 1,
        "epochs": stage.epochs,
        "lr": lr,
        "backbone_lr": backbone_lr,
        "train": stage.train,
        "trainable": trainable,
        "trainable_count": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


@torch.inference_mode()
def evaluate(
    model: nn.Module, split: Split | StreamSplit, num_classes: int,
    autocast: Callable[[], Any] = nullcontext,
) -> tuple[float, torch.Tensor]:
    """Mean cross-entropy and the predicted class of every sample of `split`."""
    model.eval()
    sums, predictions = [], []
    for x, y in split.in_order(EVAL_BATCH):
        with autocast():
            logits = model(x)
        sums.append(F.cross_entropy(logits.float(), y, reduction="sum"))
        predictions.append(logits.argmax(1))
    # one sync for every batch's sum, added in float64: a long split keeps its digits
    total = sum(torch.stack(sums).double().tolist()) if len(sums) > 1 else sums[0].item()
    return total / len(split), predictions[0] if len(predictions) == 1 else torch.cat(predictions)


class _EarlyStopper:
    def __init__(self, config: Any):
        self.config = config
        self.best: float | None = None
        self.best_epoch = 0
        self.waited = 0

    def update(self, row: dict[str, float]) -> str | None:
        """The reason to stop after this epoch, or None."""
        c = self.config
        value = row[c.monitor]
        better = (
            self.best is None
            or (c.mode == "min" and value < self.best - c.min_delta)
            or (c.mode == "max" and value > self.best + c.min_delta)
        )
        if better:
            self.best, self.best_epoch, self.waited = value, int(row["epoch"]), 0
            return None
        self.waited += 1
        if self.waited >= c.patience:
            return (
                f"{c.monitor} did not improve by more than {c.min_delta} in the last "
                f"{c.patience} epochs; best {self.best:.4g} at epoch {self.best_epoch}"
            )
        return None


def _snapshot(
    model: nn.Module, optimizer: torch.optim.Optimizer, schedule: LrSchedule, epoch: int
) -> dict[str, Any]:
    return {
        "model": _cloned(model.state_dict()),
        "optimizer": _cloned(optimizer.state_dict()),
        "schedule": schedule.state_dict(),
        "epoch": epoch,
    }


def _cloned(state: Any) -> Any:
    """A copy of a state dict that later steps cannot change: its tensors cloned, its dicts
    and lists rebuilt, the rest (numbers, strings, tuples) shared. A tenth of `deepcopy`'s
    cost, paid at every new best epoch."""
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {key: _cloned(value) for key, value in state.items()}
    if isinstance(state, list):
        return [_cloned(value) for value in state]
    return state


class _Tally:
    """The training predictions of one epoch, for its confusion matrix.

    The logits of up to `BATCHES` steps are kept and reduced to classes in one `argmax`
    (one per step cost more than the rest of the epoch's bookkeeping together); the
    bound keeps a large dataset's logits from filling the memory.
    """

    BATCHES = 32

    def __init__(self) -> None:
        self.logits: list[torch.Tensor] = []
        self.predictions: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []

    def add(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        self.logits.append(logits.detach())
        self.targets.append(targets)
        if len(self.logits) == self.BATCHES:
            self._reduce()

    def confusion(self, num_classes: int) -> torch.Tensor:
        self._reduce()
        return confusion(torch.cat(self.targets), torch.cat(self.predictions), num_classes)

    def _reduce(self) -> None:
        if self.logits:
            self.predictions.append(torch.cat(self.logits).argmax(1))
            self.logits.clear()


def _metrics_only(row: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in row.items() if k.startswith(("train_", "val_"))}
