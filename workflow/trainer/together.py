"""K seeds of one config trained together, as one vectorized model.

A small model (the quickstart's MLP, a small CNN) leaves the machine idle between
tiny kernels, and K sequential runs pay K times the loop's Python. Here the K
members' parameters are stacked (`torch.func.stack_module_state`) and one
`vmap`ped `functional_call` runs every member's forward and backward at once;
the optimizer steps the stacked tensors, which for SGD, Adam, AdamW and RMSprop
is each member's own update, element by element.

Each member is what `fit(config, seed)` would train, within floating-point
tolerance (a batched matrix product sums in another order): its weights are
initialized after `torch.manual_seed(seed)`, its batches come in its own order
(a generator seeded with its seed), its best epoch and checkpoints are its own,
and its run folder (`config.yaml`, `history.csv`, `metrics.json`, checkpoints,
validation predictions) is written as `fit` writes it, with
`trained_together` naming the seeds it trained beside.

Batch norm trains as it does alone: under `vmap` each member normalizes by its own
batch's statistics and updates its own running statistics (stacked buffers).
`why_not(config, model)` says why a config cannot train this way (dropout draws
its masks from one generator for every member; early stopping and the plateau
schedule act per member; streaming data, stages, augmentation, mixed precision,
clipping and compilation are the loop's alone);
`fit_together` then returns None and the seeds train one by one.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from workflow.trainer.accel import resolve_device
from workflow.trainer.config import TrainConfig
from workflow.trainer.data import Split, load_data
from workflow.trainer.loop import EVAL_BATCH, EXPLOSION_FACTOR, make_optimizer
from workflow.trainer.metrics import classification_metrics, confusion
from workflow.trainer.models import build_model
from workflow.trainer.result import RunResult, RunStatus
from workflow.trainer.run_folder import open_staging, seal, write_trained
from workflow.trainer.schedule import LrSchedule

__all__ = ["SMALL_MODEL", "chosen", "fit_together", "why_not"]

# parameters up to which a model counts as small: its seeds train together by default
SMALL_MODEL = 2_000_000

Report = Callable[[int, int, dict[str, float]], None]  # (seed, epoch, row)


def chosen(config: TrainConfig, trainer: str, seeds: int) -> bool:
    """Whether `seeds` seeds of `config` train together by default: phasegate's own trainer,
    its MLP or small CNN without dropout, two seeds or more, nothing `why_not` names."""
    return (trainer == "builtin" and seeds >= 2 and config.model.name in ("mlp", "cnn")
            and config.model.dropout == 0 and why_not(config) is None)


def why_not(config: TrainConfig, model: nn.Module | None = None) -> str | None:
    """Why `config` (and its built `model`) cannot train its seeds together; None when it can."""
    t, o = config.training, config.optimizer
    checks = [
        (t.early_stopping is not None, "early stopping ends each seed at its own epoch"),
        (config.schedule.name == "plateau", "the plateau schedule follows each seed's metric"),
        (bool(t.stages), "training stages"),
        (bool(config.data.augment), "augmentation"),
        (t.grad_clip is not None, "gradient clipping (a norm per model)"),
        (t.mixed_precision == "on", "mixed precision"),
        (t.compile, "torch.compile"),
        (o.backbone_lr is not None or bool(config.model.freeze) or config.model.pretrained,
         "a pretrained, frozen or differential-lr model"),
    ]
    for failed, reason in checks:
        if failed:
            return reason
    if model is not None:
        for module in model.modules():
            if isinstance(module, nn.Dropout) and module.p > 0:
                return "dropout draws one mask for every member"
    return None


def fit_together(
    config: TrainConfig,
    seeds: Sequence[int],
    root: Path,
    *,
    report: Report | None = None,
) -> dict[int, RunResult] | None:
    """Train `config` on `seeds` together into `root/seed-<n>/`; None when it cannot (see
    `why_not`), or when a member diverged (the seeds then train one by one, as `fit` would
    record a divergence)."""
    from torch.func import functional_call, stack_module_state, vmap

    started = time.perf_counter()
    device = resolve_device(config.device)
    data = load_data(config.data)
    if not isinstance(data.train, Split) or not isinstance(data.val, Split):
        return None  # streamed data: the loop's DataLoader path
    if config.training.mixed_precision == "auto" and device.type == "cuda":
        return None
    models: list[nn.Module] = []
    head: list[str] = []
    for seed in seeds:
        torch.manual_seed(seed)
        model, head = build_model(config.model, data.input_shape, data.num_classes)
        models.append(model.to(device))
    if why_not(config, models[0]) is not None:
        return None
    if sum(p.numel() for p in models[0].parameters()) > SMALL_MODEL:
        return None  # a large model keeps the machine busy alone: one seed at a time
    params, buffers = stack_module_state(models)
    training = copy.deepcopy(models[0]).to("meta").train()
    evaluating = copy.deepcopy(models[0]).to("meta").eval()

    def trained(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor) -> Any:
        return functional_call(training, (p, b), (x,))

    def evaluated(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor) -> Any:
        return functional_call(evaluating, (p, b), (x,))

    train_all = vmap(trained)  # every member on its own batch
    eval_all = vmap(evaluated, in_dims=(0, 0, None))  # every member on the same batch
    linears = _mlp_layers(models[0])
    if linears is not None:  # an MLP: batched matrix products, without vmap's overhead
        train_all, eval_all = _batched_mlp(linears, False), _batched_mlp(linears, True)
    c = config.optimizer
    optimizer = make_optimizer(config, [{"params": list(params.values()), "name": "all",
                                         "lr": c.lr, "base_lr": c.lr}], lr=c.lr)
    train, val = data.train.to(device), data.val.to(device)
    k, n, batch = len(seeds), len(train), config.data.batch_size
    epochs = config.training.epochs
    schedules = [LrSchedule(config.schedule, math.ceil(n / batch), epochs) for _ in seeds]
    shuffles = [torch.Generator().manual_seed(seed) for seed in seeds]
    metric = config.training.monitored
    histories: list[list[dict[str, float]]] = [[] for _ in seeds]
    best: list[tuple[float, int, dict[str, Any], torch.Tensor] | None] = [None] * k
    step, first_loss, train_time = 0, None, 0.0
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        orders = [torch.randperm(n, generator=g).to(device) for g in shuffles]
        chunks = [o.split(batch) for o in orders]
        count = len(chunks[0])
        if count > 1 and len(chunks[0][-1]) == 1:
            count -= 1  # as the loop: batch norm cannot train on a batch of one
        sizes = torch.tensor([len(chunks[0][i]) for i in range(count)], dtype=torch.float32)
        losses, predictions, targets = [], [], []
        for i in range(count):
            index = torch.stack([member[i] for member in chunks])  # (k, b)
            x, y = train.x[index], train.y[index]
            factor = schedules[0].factor(step)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            logits = train_all(params, buffers, x)  # (k, b, classes)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none",
                                   label_smoothing=config.training.label_smoothing)
            loss = loss.view(k, -1).mean(1)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()  # members share no parameter: each gets its own gradient
            optimizer.step()
            losses.append(loss.detach())
            predictions.append(logits.detach().argmax(2))
            targets.append(y)
            step += 1
        train_seconds = time.perf_counter() - epoch_start
        train_time += train_seconds
        step_losses = torch.stack(losses, 1).float()  # (k, steps)
        if first_loss is None:
            first_loss = step_losses[:, 0].clone()
        limit = EXPLOSION_FACTOR * first_loss.clamp(min=1.0)
        if bool(((~torch.isfinite(step_losses)) | (step_losses > limit[:, None])).any()):
            return None
        val_loss, val_pred = _evaluate(eval_all, params, buffers, val, k)
        epoch_time = (time.perf_counter() - epoch_start) / k  # each member's share
        seen = int(sizes.sum().item())
        for m, seed in enumerate(seeds):
            train_metrics = classification_metrics(confusion(
                torch.cat([t[m] for t in targets]), torch.cat([p[m] for p in predictions]),
                data.num_classes))
            val_metrics = classification_metrics(confusion(val.y, val_pred[m], data.num_classes))
            row: dict[str, float] = {
                "epoch": epoch, "stage": 1, "lr": optimizer.param_groups[-1]["lr"],
                "train_loss": float((step_losses[m] * sizes).sum().item() / seen),
                **{f"train_{key}": v for key, v in train_metrics.items()},
                "val_loss": val_loss[m],
                **{f"val_{key}": v for key, v in val_metrics.items()},
                "epoch_time": epoch_time,
                "samples_per_sec": seen * k / train_seconds if train_seconds > 0 else 0.0,
                "data_wait_fraction": 0.0,
            }
            histories[m].append(row)
            if not math.isfinite(val_loss[m]):
                return None
            value = row[config.training.monitor]
            kept = best[m]
            if kept is None or metric.better(value, kept[0]):
                best[m] = (value, epoch, _member(params, buffers, optimizer, schedules[m], m,
                                                 epoch), val_pred[m].cpu())
            schedules[m].end_epoch(value, metric.mode)
            if report is not None:
                report(seed, epoch, row)
    meta = {"class_names": data.class_names, "input_shape": list(data.input_shape),
            "normalization": data.normalization, "head": head}
    results = {}
    for m, seed in enumerate(seeds):
        last = _member(params, buffers, optimizer, schedules[m], m, epochs)
        results[seed] = _write(config.model_copy(update={"seed": seed}), seed,
                               root / f"seed-{seed}", histories[m], best[m], last, meta,
                               val.y.cpu(), {
                                   "wall_time_s": (time.perf_counter() - started) / k,
                                   "samples_per_sec": n * epochs * k / train_time
                                   if train_time > 0 else 0.0,
                                   "device": str(device), "split": data.split_info,
                                   "loader": data.loader.to_dict() if data.loader else None,
                                   "parameters": sum(p[m].numel() for p in params.values()),
                                   "names": list(params), "seeds": list(seeds)})
    return results


def _mlp_layers(model: nn.Module) -> list[str] | None:
    """The Linear layers of the built-in MLP, in the order they apply; None for other models."""
    from workflow.trainer.models import MLP

    if type(model) is not MLP:
        return None
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    kinds = {type(m) for m in model.modules()} - {MLP, nn.Sequential, nn.Linear, nn.ReLU,
                                                  nn.Flatten, nn.Identity}
    return None if kinds else names


def _batched_mlp(linears: list[str], shared: bool) -> Callable[..., torch.Tensor]:
    """The MLP's forward over stacked weights: each member's Linear-ReLU-...-Linear as one
    batched matrix product per layer (vmap's arithmetic, without its per-call overhead).
    `shared`: one batch (b, ...) for every member, else one per member (k, b, ...)."""

    def forward(params: dict[str, torch.Tensor], _: dict[str, torch.Tensor],
                x: torch.Tensor) -> torch.Tensor:
        k = params[f"{linears[0]}.weight"].shape[0]
        h = x.flatten(1).expand(k, -1, -1) if shared else x.flatten(2)
        for i, name in enumerate(linears):
            weight, bias = params[f"{name}.weight"], params[f"{name}.bias"]
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if i < len(linears) - 1:
                h = h.relu()
        return h

    return forward


@torch.inference_mode()
def _evaluate(
    eval_all: Callable[..., Any], params: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor], split: Split, k: int,
) -> tuple[list[float], torch.Tensor]:
    """Each member's mean cross-entropy on `split`, and its predicted classes (k, n)."""
    total = torch.zeros(k, dtype=torch.float64, device=split.device)
    predictions = []
    for x, y in split.in_order(EVAL_BATCH):
        logits = eval_all(params, buffers, x).float()  # (k, b, classes)
        per = F.cross_entropy(logits.flatten(0, 1), y.repeat(k), reduction="none")
        total += per.view(k, -1).sum(1).double()
        predictions.append(logits.argmax(2))
    return (total / len(split)).tolist(), torch.cat(predictions, 1)


def _member(
    params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer, schedule: LrSchedule, m: int, epoch: int,
) -> dict[str, Any]:
    """Member m's checkpoint, as `fit` saves one: its weights, its optimizer state, its schedule."""
    model = {name: t[m].detach().clone() for name, t in {**params, **buffers}.items()}
    state = optimizer.state_dict()
    sliced = {
        index: {key: (v[m].clone() if torch.is_tensor(v) and v.dim() > 0 else copy.deepcopy(v))
                for key, v in entry.items()}
        for index, entry in state["state"].items()
    }
    return {"model": model,
            "optimizer": {"state": sliced, "param_groups": copy.deepcopy(state["param_groups"])},
            "schedule": schedule.state_dict(), "epoch": epoch}


def _write(
    config: TrainConfig, seed: int, out_dir: Path, history: list[dict[str, float]],
    best: tuple[float, int, dict[str, Any], torch.Tensor] | None, last: dict[str, Any],
    meta: dict[str, Any], val_y: torch.Tensor, run: dict[str, Any],
) -> RunResult:
    """Member `seed`'s run folder, as `fit` writes it (staged, then moved into place)."""
    staging = open_staging(out_dir, config.to_yaml())
    checkpoints, predictions = write_trained(
        staging, out_dir, states={"last": last, "best": best[2] if best else None},
        meta={"config": config.model_dump(mode="json"), **meta}, val_targets=val_y,
        best_predictions=best[3] if best else None, history=history)
    best_epoch = best[1] if best else None
    best_row = next((r for r in history if r["epoch"] == best_epoch), {})
    epochs = config.training.epochs
    result = RunResult(
        status=RunStatus.COMPLETED, seed=seed, history=history, best_epoch=best_epoch,
        best=_metrics_only(best_row), final=_metrics_only(history[-1]),
        monitor=config.training.monitor, wall_time_s=run["wall_time_s"],
        samples_per_sec=run["samples_per_sec"], checkpoints=checkpoints,
        predictions_path=predictions,
        extra={
            "epochs_run": len(history), "device": run["device"], "mixed_precision": "off",
            "split": run["split"], "loader": run["loader"],
            "stages": [{"stage": 1, "first_epoch": 1, "epochs": epochs,
                        "lr": config.optimizer.lr, "backbone_lr": config.optimizer.lr,
                        "train": "all", "trainable": run["names"],
                        "trainable_count": run["parameters"]}],
            "parameters": run["parameters"],
            "trained_together": run["seeds"],
        },
    )
    seal(staging, out_dir, result)
    return result


def _metrics_only(row: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in row.items() if k.startswith(("train_", "val_"))}
