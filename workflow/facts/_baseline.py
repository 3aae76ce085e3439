"""The baseline's facts (`baseline.*`), recorded by `phasegate baseline` (Phase 3's module)."""

from __future__ import annotations

from typing import Literal

from workflow.facts._base import ByMetric

__all__ = ["BaselineFacts"]


class BaselineFacts(ByMetric):
    """Completion and seed counts, and a summary per metric at each seed's best epoch.

    `baseline.{metric}.mean` is `BaselineFacts.summary(metric).mean`.
    """

    completed: bool | None = None
    source: Literal["trained", "imported"] | None = None
    seed_list: list[int] | None = None
    runs: int | None = None  # seed runs found
    seeds: int | None = None  # usable ones (completed or early-stopped)
    diverged: int | None = None
    completed_at: str | None = None
