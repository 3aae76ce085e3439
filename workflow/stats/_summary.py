"""One arm's per-seed results in a few numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from workflow.stats._common import Values, _as_values, _json_float


@dataclass(frozen=True)
class ArmSummary:
    """One arm's per-seed results: count, mean, sample std (ddof=1), extremes, raw values."""

    n: int
    mean: float
    std: float  # NaN when n == 1
    min: float
    max: float
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": _json_float(self.std),
            "min": self.min,
            "max": self.max,
            "values": list(self.values),
        }


def summarize(values: Values) -> ArmSummary:
    """Mean, sample standard deviation (ddof=1), min and max of one arm."""
    array = _as_values(values, "values")
    if array.size == 0:
        raise ValueError("cannot summarize an empty arm.")
    std = float(np.std(array, ddof=1)) if array.size > 1 else math.nan
    return ArmSummary(
        n=int(array.size),
        mean=float(np.mean(array)),
        std=std,
        min=float(np.min(array)),
        max=float(np.max(array)),
        values=tuple(float(v) for v in array),
    )
