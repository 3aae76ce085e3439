"""phases.diagnostic.rules._resources: a streaming loader that starves the model gets loader
settings sized from the measured wait, with the numbers in the finding."""

from __future__ import annotations

import pytest

from phases.diagnostic.answers import Context
from phases.diagnostic.rules import _resources, find_all
from phases.diagnostic.rules._resources import LOADER_ANSWER, ResourceWaste, loader_advice
from tests.diagnostic.histories import by_id, clean_config, evidence, seeds


@pytest.fixture(autouse=True)
def eight_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    # the advice stays below the machine's cores: fix them so the numbers are exact
    monkeypatch.setattr(_resources.os, "cpu_count", lambda: 8)


def test_a_starving_streaming_loader_without_workers_gets_workers() -> None:
    # 45% waiting with no workers: decoding takes 0.45 / 0.55 of a step, so 1 worker keeps
    # up and one more is slack; the finding carries the settings and the measured wait
    config = clean_config(**{"data.loader": "stream"})
    waste = by_id(find_all(evidence(seeds(data_wait_fraction=lambda e: 0.45), config=config))
                  )["resource_waste"]
    assert {k: v for k, v in waste.evidence.items() if k not in ("samples_per_sec",)} == {
        "data_wait_pct": 45.0, "data_wait_threshold_pct": 30.0, "batch_size": 64,
        "loader": "stream", "workers": 0, "prefetch": 2, "pin_memory": "auto",
        "recommended_workers": 2, "recommended_prefetch": 2, "recommended_pin_memory": "auto",
        "cpus": 8,
    }
    assert "the streaming loader has 0 workers and prefetch 2: 2 workers" in waste.text


def test_workers_that_still_leave_a_wait_are_scaled_by_it_within_the_cores() -> None:
    # 2 workers and 75% waiting: they decode 4x too slowly, 8 (+1) are capped at 7 of 8 cores;
    # prefetch doubles; pinned memory comes back on for a GPU
    config = clean_config(**{"data.loader": "stream", "data.workers": 2,
                             "data.pin_memory": "off", "device": "auto"})
    advice = loader_advice(config, 0.75, 8)
    assert advice == {"workers": 7, "prefetch": 4, "pin_memory": "auto", "cpus": 8}
    assert loader_advice(config, 0.75, 64)["workers"] == 9
    on_cpu = config.with_changes({"device": "cpu"})
    assert loader_advice(on_cpu, 0.75, 8)["pin_memory"] == "off"  # no GPU to copy to


def test_in_memory_data_gets_no_loader_advice() -> None:
    # digits never streams: the wait is the in-memory path's, and workers would not help it
    waste = by_id(find_all(evidence(seeds(data_wait_fraction=lambda e: 0.45))))["resource_waste"]
    assert "recommended_workers" not in waste.evidence


def test_the_loader_recommendation_changes_only_what_differs() -> None:
    # the answer patches workers/prefetch/pin_memory to the finding's numbers
    config = clean_config(**{"data.loader": "stream"})
    ev = evidence(seeds(data_wait_fraction=lambda e: 0.45), config=config)
    finding = by_id(find_all(ev))["resource_waste"]
    rule = ResourceWaste()
    ctx = Context(config=config, evidence=ev, headroom=10.0, found=frozenset({rule.id}))
    recs = rule._faster_loader(finding, ctx, "MEDIUM")
    assert [r.name for r in recs] == [LOADER_ANSWER]
    assert recs[0].changes == {"data.workers": 2}
    assert recs[0].title == "Feed the model faster (0 -> 2 loader workers, prefetch 2 -> 2)"
    config.with_changes(recs[0].changes)  # a valid patch
