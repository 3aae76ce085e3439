"""The built-in trainer's probes: the learning-rate range test and the batch-size probe.

Phase 3 (`phases.diagnostic.probes`) calls these for a project on the built-in
trainer; they build the model and read the data through the built-in trainer's
own loader and model builder, which no module under phases/ imports. A user's
trainer has its own data and model: these do not apply to it.

- `lr_range_test`: train from a fresh model for about a hundred steps while the
  lr grows exponentially from tiny to huge, smooth the loss, stop once it passes
  four times its best; the suggestion is the steepest descent of the smoothed
  loss against log lr (Smith, 2017; the fastai "lr finder"). Its first step, at a
  negligible lr, is the loss at initialization, recorded beside ln(classes). The
  suggestion is the smaller of the steepest descent and a tenth of the lowest
  loss's lr.
- `batch_probe`: time a few training steps at each power-of-two batch size the
  training split allows; the smallest batch reaching 90% of the best throughput.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from workflow.errors import ConfigError
from workflow.trainer.config import TrainConfig

__all__ = ["BATCH_SIZES", "BATCH_STEPS", "LR_END", "LR_START", "LR_STEPS", "STOP_FACTOR",
           "batch_probe", "lr_range_test", "steepest_descent"]

LR_START = 1e-7
LR_END = 10.0
LR_STEPS = 100
SKIP_START = 0.1  # the first 10% of the points are too noisy to judge a slope
SMOOTHING = 0.98  # exponential moving average of the loss, bias-corrected
STOP_FACTOR = 4.0  # stop once the smoothed loss is 4x its best
CLEAR_DESCENT = 0.10  # a suggestion needs the smoothed loss to fall 10% below its start
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)
BATCH_STEPS = 5
INPUT_STD_SAMPLES = 4096  # the input scale is read on at most this many training samples
THROUGHPUT_SHARE = 0.9


def steepest_descent(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """The lr where `losses` (smoothed) falls fastest against log10(lr), before its minimum."""
    n = len(losses)
    if n < 5:
        return None
    low = min(range(n), key=lambda i: losses[i])
    start = min(int(n * SKIP_START), max(0, low - 2))
    best, best_slope = None, 0.0
    logs = [math.log10(lr) for lr in lrs]
    for i in range(max(1, start), min(low + 1, n - 1)):
        slope = (losses[i + 1] - losses[i - 1]) / (logs[i + 1] - logs[i - 1])
        if slope < best_slope:
            best, best_slope = i, slope
    return float(lrs[best]) if best is not None else None


def _setup(config: TrainConfig, seed: int) -> tuple[Any, Any, Any, Any]:
    import torch

    from workflow.trainer.data import load_data
    from workflow.trainer.loop import resolve_device
    from workflow.trainer.models import build_model

    device = resolve_device(config.device)
    data = load_data(config.data)
    torch.manual_seed(seed)
    model, _ = build_model(config.model, data.input_shape, data.num_classes)
    return torch, device, data, model.to(device)


def _optimizer(torch: Any, config: TrainConfig, parameters: Any, lr: float) -> Any:
    from workflow.trainer.optim import make_optimizer

    return make_optimizer(config, parameters, lr=lr)


def lr_range_test(
    config: TrainConfig,
    *,
    seed: int = 0,
    steps: int = LR_STEPS,
    start_lr: float = LR_START,
    end_lr: float = LR_END,
) -> dict[str, Any]:
    """Run the range test on a fresh model of `config`; the curve and the suggested lr."""
    if not 0 < start_lr < end_lr:
        raise ConfigError(
            f"lr range test: need 0 < start_lr < end_lr, but got {start_lr=}, {end_lr=}"
        )
    torch, device, data, model = _setup(config, seed)
    import torch.nn.functional as F

    train = data.train.to(device)
    optimizer = _optimizer(torch, config, model.parameters(), start_lr)
    generator = torch.Generator().manual_seed(seed)
    batch = min(config.data.batch_size, len(train))
    ratio = (end_lr / start_lr) ** (1 / max(1, steps - 1))
    lrs: list[float] = []
    raw: list[float] = []
    smoothed: list[float] = []
    average, best, stop_reason = 0.0, math.inf, "reached the last lr"
    # the steps' batches, drawn up front and read through the split's own batches: a
    # streamed split decodes only these samples, never the whole split at once
    chunks, order, cursor = [], torch.randperm(len(train), generator=generator), 0
    for _ in range(steps):
        if cursor + batch > len(order):
            order, cursor = torch.randperm(len(train), generator=generator), 0
        chunks.append(order[cursor : cursor + batch].to(device))
        cursor += batch
    sample = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    (inputs, _), = train.batches([sample[:INPUT_STD_SAMPLES].to(device)])
    input_std = float(inputs.float().std().item())
    del inputs
    model.train()
    for step, (x, y) in enumerate(train.batches(chunks)):
        lr = start_lr * ratio**step
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(x), y, label_smoothing=config.training.label_smoothing)
        value = float(loss.item())
        if not math.isfinite(value):
            stop_reason = f"the loss became {value} at lr {lr:.3g}"
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        debiased = average / (1 - SMOOTHING ** (step + 1))
        lrs.append(lr)
        raw.append(value)
        smoothed.append(debiased)
        best = min(best, debiased)
        if step > 0 and debiased > STOP_FACTOR * best:
            stop_reason = f"the smoothed loss passed {STOP_FACTOR:g}x its best at lr {lr:.3g}"
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    steepest = steepest_descent(lrs, smoothed)
    low = min(range(len(smoothed)), key=lambda i: smoothed[i]) if smoothed else None
    # the suggestion: the steepest descent, but never above a tenth of the lr of the lowest
    # loss (fastai's "minimum / 10"): the steepest point of a short test often lies where
    # a whole run already bounces
    candidates = [v for v in (steepest, lrs[low] / 10 if low is not None else None)
                  if v is not None]
    suggested = min(candidates) if candidates else None
    if low is not None and smoothed[0] > 0 and (smoothed[0] - smoothed[low]) < (
            CLEAR_DESCENT * smoothed[0]):
        # the loss never fell clearly (a model held back by its noise or its size): the
        # lowest point is noise, and no suggestion is better than a wrong one
        suggested = None
        stop_reason += f"; the smoothed loss never fell {100 * CLEAR_DESCENT:.0f}% below its start"
    return {
        "probe": "lr_range",
        "seed": seed,
        "steps_run": len(lrs),
        "start_lr": start_lr,
        "end_lr": end_lr,
        "stop_reason": stop_reason,
        "suggested_lr": suggested,
        "steepest_lr": steepest,
        "min_loss_lr": lrs[low] if low is not None else None,
        "lrs": lrs,
        "losses": raw,
        "smoothed": smoothed,
        "current_lr": config.optimizer.lr,
        # the loss at initialization (the first step, at a negligible lr) and a uniform
        # guess's: Phase 3's input_scale finding reads them
        "initial_loss": raw[0] if raw else None,
        "chance_loss": math.log(data.num_classes) if data.num_classes > 1 else None,
        "input_std": input_std,
    }


def batch_probe(
    config: TrainConfig, *, seed: int = 0, sizes: Sequence[int] = BATCH_SIZES,
    steps: int = BATCH_STEPS,
) -> dict[str, Any]:
    """Time training steps at each batch size; the throughput table and a suggested size."""
    torch, device, data, model = _setup(config, seed)
    import torch.nn.functional as F

    train = data.train.to(device)
    optimizer = _optimizer(torch, config, model.parameters(), config.optimizer.lr)
    rows: list[dict[str, Any]] = []
    for size in [s for s in sizes if s <= len(train)] or [len(train)]:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        index = torch.arange(size, device=device) % len(train)
        (x, y), = train.batches([index])
        try:
            for step in range(steps + 1):
                if step == 1:  # the first step warms up kernels and allocations
                    _sync(torch, device)
                    started = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                optimizer.step()
            _sync(torch, device)
        except RuntimeError as exc:  # out of memory: the device holds no bigger batch
            rows.append({"batch_size": size, "samples_per_sec": None, "error": str(exc)[:80]})
            break
        seconds = time.perf_counter() - started
        memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        rows.append({
            "batch_size": size,
            "samples_per_sec": size * steps / seconds if seconds > 0 else None,
            "peak_memory_mb": memory / 2**20 if memory is not None else None,
        })
    speeds = {int(r["batch_size"]): float(r["samples_per_sec"])
              for r in rows if r.get("samples_per_sec")}
    best = max(speeds.values()) if speeds else None
    suggested = next(
        (size for size, speed in speeds.items() if best and speed >= THROUGHPUT_SHARE * best),
        None,
    )
    return {
        "probe": "batch",
        "seed": seed,
        "device": str(device),
        "train_size": len(train),
        "rows": rows,
        "suggested_batch_size": suggested,
        "current_batch_size": config.data.batch_size,
    }


def _sync(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
