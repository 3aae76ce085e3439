"""phases.diagnostic.rules._resources: waiting on data, or a small batch's low throughput."""

from __future__ import annotations

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, clean_config, evidence, seeds


def test_resource_waste_from_data_wait() -> None:
    # 45% of each epoch waiting on data is above the 30% threshold
    waste = by_id(find_all(evidence(seeds(data_wait_fraction=lambda e: 0.45))))["resource_waste"]
    assert waste.evidence["data_wait_pct"] == 45.0
    assert waste.evidence["data_wait_threshold_pct"] == 30.0
    assert waste.severity == "medium"


def test_resource_waste_from_low_throughput_with_a_small_batch() -> None:
    # 300 samples/s with a batch of 8 over 2-second epochs (75 steps): slow, and the batch is why;
    # on 0.1-second epochs (4 steps) fixed costs dominate and throughput is not judged
    config = clean_config(**{"data.batch_size": 8})
    ev = evidence(seeds(samples_per_sec=lambda e: 300.0, epoch_time=lambda e: 2.0), config=config)
    waste = by_id(find_all(ev))["resource_waste"]
    assert waste.evidence["samples_per_sec"] == 300.0
    assert waste.evidence["batch_size"] == 8
    assert waste.severity == "low"
    short = seeds(samples_per_sec=lambda e: 300.0, epoch_time=lambda e: 0.1)
    assert "resource_waste" not in by_id(find_all(evidence(short, config=config)))
