"""Resource waste: training waits on data, or a small batch keeps the throughput low.

Throughput is judged only on epochs of 10 steps or more: on fewer, fixed per-epoch
costs dominate the measure.

A streaming loader (`data.loader: stream`, or `auto` on files, which streams data
past the memory budget) that keeps the model waiting gets loader settings sized
from the wait itself. With no workers the main process decodes, then trains: a
wait fraction w means decoding takes w / (1 - w) of a step's compute, so that many
workers decoding in parallel keep up (one more for slack). With c workers that
still leave a wait, they decode c / (1 - w) times too slowly. Prefetch deepens to
absorb uneven batches, and pinned memory speeds the copy to a GPU.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from phases.diagnostic.answers import Recommendation, lower
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, r
from workflow.trainer.config import MAX_WORKERS

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority
    from workflow.trainer.config import TrainConfig

__all__ = ["ResourceWaste"]

DATA_WAIT_FRACTION = 0.30
DATA_WAIT_HIGH = 0.50
LOW_THROUGHPUT = 1000.0  # samples/s
SMALL_BATCH = 32
THROUGHPUT_MIN_STEPS = 10
# the answer for a starving streaming loader (its settings sized in the finding's evidence)
LOADER_ANSWER = "faster_loader"
MAX_PREFETCH = 16
STREAMABLE = ("imagefolder", "torchvision:")


def streams(config: TrainConfig) -> bool:
    """Whether the baseline's data can come through the streaming loader."""
    data = config.data
    return data.loader == "stream" or (
        data.loader == "auto" and data.dataset.startswith(STREAMABLE))


def loader_advice(config: TrainConfig, wait: float, cpus: int | None) -> dict[str, Any]:
    """Workers, prefetch and pinned memory for a loader that leaves `wait` of each epoch idle.

    The numbers in the module docstring; workers stay below this machine's core count
    (one core trains).
    """
    data = config.data
    w = min(wait, 0.95)
    needed = math.ceil(w / (1 - w)) if data.workers == 0 else math.ceil(data.workers / (1 - w))
    ceiling = max(1, (cpus or 2) - 1)
    workers = max(data.workers, min(needed + 1, ceiling, MAX_WORKERS))
    prefetch = min(MAX_PREFETCH, max(data.prefetch, 2 * data.prefetch if data.workers else 2))
    gpu = config.device.startswith("cuda") or config.device == "auto"
    pin = "auto" if gpu and data.pin_memory == "off" else data.pin_memory
    return {"workers": workers, "prefetch": prefetch, "pin_memory": pin, "cpus": cpus}


class ResourceWaste(Rule):
    id = "resource_waste"
    title = "Resource waste"
    root_cause = False
    answers = ("larger_batch", LOADER_ANSWER)

    def check(self, ev: Evidence) -> Finding | None:
        runs = having(ev.usable, "data_wait_fraction", "samples_per_sec")
        if not runs:
            return None
        wait = mean(row["data_wait_fraction"] for run in runs for row in run.history)
        speed = mean(row["samples_per_sec"] for run in runs for row in run.history)
        batch = ev.config.data.batch_size
        sizes = [run.train_size for run in runs if run.train_size]
        seen = min(sizes) if sizes else mean(
            row["samples_per_sec"] * row.get("epoch_time", math.inf)
            for run in runs for row in run.history
        )
        waiting = wait > DATA_WAIT_FRACTION
        slow = (speed < LOW_THROUGHPUT and batch < SMALL_BATCH
                and seen / batch >= THROUGHPUT_MIN_STEPS)
        if not (waiting or slow):
            return None
        parts = []
        loader: dict[str, Any] = {}
        if waiting:
            parts.append(
                f"training waited on data for {100 * wait:.0f}% of each epoch "
                f"(threshold {100 * DATA_WAIT_FRACTION:.0f}%)"
            )
        if waiting and streams(ev.config):
            data = ev.config.data
            advice = loader_advice(ev.config, wait, os.cpu_count())
            loader = {"loader": data.loader, "workers": data.workers, "prefetch": data.prefetch,
                      "pin_memory": data.pin_memory,
                      **{f"recommended_{k}": v for k, v in advice.items() if k != "cpus"},
                      "cpus": advice["cpus"]}
            parts.append(
                f"the streaming loader has {data.workers} workers and prefetch {data.prefetch}: "
                f"{advice['workers']} workers, prefetch {advice['prefetch']} and pin_memory "
                f"{advice['pin_memory']} would decode ahead of the model"
            )
        if slow:
            parts.append(f"throughput is {speed:.0f} samples/s with a batch of {batch}")
        severity: Severity = "high" if wait > DATA_WAIT_HIGH else "medium" if waiting else "low"
        return self.found(severity, {
            "data_wait_pct": r(100 * wait, 1),
            "data_wait_threshold_pct": r(100 * DATA_WAIT_FRACTION, 1),
            "samples_per_sec": r(speed, 1),
            "batch_size": batch,
            **loader,
        }, "; ".join(parts), seeds=[run.seed for run in runs])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        faster = self._faster_loader(finding, ctx, primary)
        return faster + self._larger_batch(ctx, lower(primary) if faster else primary)

    def _faster_loader(self, finding: Finding, ctx: Context,
                       primary: Priority) -> list[Recommendation]:
        e = finding.evidence
        if LOADER_ANSWER not in self.answers or "recommended_workers" not in e:
            return []
        changes = {f"data.{k}": e[f"recommended_{k}"] for k in ("workers", "prefetch", "pin_memory")
                   if e[f"recommended_{k}"] != e[k]}
        if not changes:
            return []
        return [Recommendation(
            name=LOADER_ANSWER,
            title=f"Feed the model faster ({e['workers']} -> {e['recommended_workers']} loader "
                  f"workers, prefetch {e['prefetch']} -> {e['recommended_prefetch']})",
            priority=primary,
            changes=changes,
            finding=self.id,
            rationale=f"training waited on data for {e['data_wait_pct']:.0f}% of each epoch; "
                      "workers decoding in parallel hide the decoding behind the compute",
            expected_gain=(0.0, 0.0),
            risk="each worker holds its own copy of the decoders and prefetched batches in memory",
            space={"data.workers": {"type": "categorical",
                                    "choices": [e["workers"], e["recommended_workers"]]}},
        )]

    def _larger_batch(self, ctx: Context, primary: Priority) -> list[Recommendation]:
        batch = ctx.config.data.batch_size
        sizes = [run.train_size for run in ctx.evidence.runs if run.train_size]
        new = ctx.probe_batch() or 4 * batch
        if sizes:
            new = min(new, max(batch, min(sizes) // 4))
        if new <= batch:
            return []
        return [Recommendation(
            name="larger_batch",
            title=f"Raise the batch size ({batch} -> {new})",
            priority=primary,
            changes={"data.batch_size": new},
            finding=self.id,
            rationale="larger batches amortize the per-step data and launch overhead",
            expected_gain=(0.0, 0.0),
            risk="fewer steps per epoch: the lr may need to scale with the batch",
            space={"data.batch_size": {"type": "categorical", "choices": [batch, new]}},
        )]
