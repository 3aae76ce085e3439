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
    from sklearn.datasets import load_digits

    bunch = load_digits()
    y = bunch.target.copy()
    rng = np.random.default_rng(0)
    flip = rng.random(len(y)) < NOISE
    y[flip] = rng.integers(0, 10, flip.sum())
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    return images, y, [str(c) for c in bunch.target_names]


def scaled_mlp(num_classes: int, input_shape: Sequence[int], widths: Sequence[int] = (128, 64),
               dropout: float = 0.0, input_scale: float = 1.0, **_: Any) -> Any:
    import math

    from torch import nn

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = [nn.Flatten()]
            previous = math.prod(input_shape)
            for width in widths:
                layers += [nn.Linear(previous, width), nn.ReLU()]
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                previous = width
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(previous, num_classes)

        def forward(self, x: Any) -> Any:
            return self.head(self.body(x * input_scale))

    return Scaled()


scaled_mlp.phasegate_knobs = ("widths", "dropout")  # type: ignore[attr-defined]
