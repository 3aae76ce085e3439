"""The bases every section of facts.json is built from.

A section accumulates: each phase records a few keys at a time and a later
record keeps the rest, so every field of a section is optional and `None`
means "not recorded yet". What one record writes whole (a recommendation, a
seed selection) has its fields required.

Nothing in this package imports `workflow.store`: the store imports these
models to validate every record before it is written.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ByMetric", "FactsModel", "MetricSummary"]


class FactsModel(BaseModel):
    """A frozen record of facts; a key it does not declare is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSummary(FactsModel):
    """One metric over an arm's seeds: count, mean, sample std, extremes, raw values.

    `mean` and `std` are None when the metric is undefined over the usable seeds
    (recorded as unknown, so a stale value of an earlier run never survives).
    """

    n: int | None = None
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    values: list[float] | None = None


class ByMetric(BaseModel):
    """Declared fields plus one `MetricSummary` per metric, keyed by the metric's name.

    The metric names are the project's (any trainer's), so they are not fields:
    `baseline.val_accuracy.mean` and, in a checklist, `baseline.{metric}.mean`
    both name a summary's `mean`. A key that is neither a declared field nor a
    summary is an error.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, MetricSummary]

    def summary(self, metric: str) -> MetricSummary | None:
        """The summary of `metric`, or None when it was not recorded."""
        extra: dict[str, Any] = self.model_extra or {}
        found = extra.get(metric)
        return found if isinstance(found, MetricSummary) else None

    @property
    def metrics(self) -> dict[str, MetricSummary]:
        """Every recorded summary, by metric name."""
        return dict(self.model_extra or {})
