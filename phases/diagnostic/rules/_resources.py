"""Resource waste: training waits on data, or a small batch keeps the throughput low.

Throughput is judged only on epochs of 10 steps or more: on fewer, fixed per-epoch
costs dominate the measure.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, r

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["ResourceWaste"]

DATA_WAIT_FRACTION = 0.30
DATA_WAIT_HIGH = 0.50
LOW_THROUGHPUT = 1000.0  # samples/s
SMALL_BATCH = 32
THROUGHPUT_MIN_STEPS = 10


class ResourceWaste(Rule):
    id = "resource_waste"
    title = "Resource waste"
    root_cause = False
    answers = ("larger_batch",)

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
        if waiting:
            parts.append(
                f"training waited on data for {100 * wait:.0f}% of each epoch "
                f"(threshold {100 * DATA_WAIT_FRACTION:.0f}%)"
            )
        if slow:
            parts.append(f"throughput is {speed:.0f} samples/s with a batch of {batch}")
        severity: Severity = "high" if wait > DATA_WAIT_HIGH else "medium" if waiting else "low"
        return self.found(severity, {
            "data_wait_pct": r(100 * wait, 1),
            "data_wait_threshold_pct": r(100 * DATA_WAIT_FRACTION, 1),
            "samples_per_sec": r(speed, 1),
            "batch_size": batch,
        }, "; ".join(parts), seeds=[run.seed for run in runs])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
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
