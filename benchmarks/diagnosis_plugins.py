"""Plug-ins the fault benchmark (benchmarks/diagnosis_faults.py) injects faults through.

- `synthetic(root)`: the second offline task, made here: scikit-learn's
  `make_classification` (2,000 samples, 20 features, 4 classes), fixed seed.
- `noisy_digits(root)`: the embedded digits with 40% of the labels replaced at
  random (train and val alike, as label noise in collected data is).
- `scaled_mlp`: an MLP that multiplies its (standardized) input by
  `input_scale` first: a model whose preprocessing feeds it raw 0-255 pixels.
  It declares the generic knobs it accepts (`phasegate_knobs`), so Phase 3 may
  recommend its widths and dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NOISE = 0.4


def synthetic(root: str | None) -> tuple[Any, Any, list[str]]:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=2000, n_features=20, n_informative=12,
                               n_redundant=4, n_classes=4, n_clusters_per_class=2,
                               class_sep=1.0, random_state=0)
    return x.astype(np.float32), y, ["a", "b", "c", "d"]


def noisy_digits(root: str | None) -> tuple[Any, Any, list[str]]:
    from workflow.trainer.sources import digits_arrays

    pixels, target = digits_arrays()  # the embedded default's own reader
    y = target.copy()
    rng = np.random.default_rng(0)
    flip = rng.random(len(y)) < NOISE
    y[flip] = rng.integers(0, 10, flip.sum())
    images = (pixels.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return images, y, [str(c) for c in range(10)]


def scaled_mlp(num_classes: int, input_shape: Sequence[int], widths: Sequence[int] = (128, 64),
               dropout: float = 0.0, input_scale: float = 1.0, **_: Any) -> Any:
    """phasegate's own MLP, fed its input times `input_scale`."""
    import math

    from workflow.trainer.models import MLP

    class Scaled(MLP):
        def forward(self, x: Any) -> Any:
            return super().forward(x * input_scale)

    return Scaled(math.prod(input_shape), widths, num_classes, dropout)


scaled_mlp.phasegate_knobs = ("widths", "dropout")  # type: ignore[attr-defined]
