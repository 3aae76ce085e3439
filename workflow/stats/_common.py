"""What every statistic shares: the minimum seeds, the confidence level, input checks, JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

MIN_SEEDS = 3
CONFIDENCE_LEVEL = 0.95

FloatArray = npt.NDArray[np.float64]
# per-seed results: a list from a results file, or an array
Values = Sequence[float] | npt.NDArray[np.floating[Any]]


def _as_values(values: Values, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers, but got shape {array.shape}.")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        # a diverged seed is a decision for the caller (fail the arm, or drop the seed
        # and say so); averaging a NaN away here would hide it
        raise ValueError(
            f"{name} holds non-finite values at positions {bad.tolist()} "
            f"({[float(array[i]) for i in bad]}); drop or fail diverged seeds before comparing."
        )
    return array


def _json_float(x: float | None) -> float | None:
    """A float that `json.dumps(allow_nan=False)` accepts: NaN and infinities become None."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _fmt_p(p: float) -> str:
    return f"{p:.3g}"
