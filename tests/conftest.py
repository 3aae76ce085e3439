"""Shared fixtures: tiny, fast training configs on the embedded default dataset."""

from __future__ import annotations

from typing import Any

import pytest


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """A config that trains on a few hundred digits for two epochs in well under a second."""
    config: dict[str, Any] = {
        "name": "tiny",
        "data": {"dataset": "digits", "max_samples": 300, "batch_size": 32},
        "model": {"name": "mlp", "widths": [32]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 2},
        "device": "cpu",
    }
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


@pytest.fixture
def tiny() -> dict[str, Any]:
    return tiny_config()
