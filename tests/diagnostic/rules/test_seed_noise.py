"""phases.diagnostic.rules._seed_noise: the seeds the project's min_effect needs."""

from __future__ import annotations

import math

import pytest

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, evidence, seeds


def test_seed_noise_against_the_minimum_effect() -> None:
    # val accuracy 2 points apart between seeds (std 2) against a 1-point min_effect: at 80%
    # power and alpha 0.05 a test needs ceil(2 * (2.486 * 2 / 1)^2) = 50 seeds per arm
    runs = seeds(spread=0.02)
    noise = by_id(find_all(evidence(runs, min_effect=0.01)))["seed_noise"]
    assert noise.evidence["std"] == pytest.approx(2.0)
    assert noise.evidence["min_effect"] == 1.0
    assert noise.evidence["seeds_needed"] == 50
    assert noise.evidence["seeds"] == 3
    assert noise.evidence["detectable_effect"] == pytest.approx(2.486 * 2 * math.sqrt(2 / 3), 0.01)
    assert noise.severity == "high"
    # the same spread against a 10-point effect is no problem
    assert "seed_noise" not in by_id(find_all(evidence(runs, min_effect=0.10)))
