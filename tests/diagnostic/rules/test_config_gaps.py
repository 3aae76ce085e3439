"""phases.diagnostic.rules._config_gaps: the config analysis's gaps as one finding."""

from __future__ import annotations

from phases.diagnostic.rules import find_all
from tests.diagnostic.histories import by_id, clean_config, evidence, seeds


def test_config_gaps() -> None:
    # the trainer's defaults on images: no schedule, no regularization, no augmentation, no clip
    config = clean_config(**{
        "schedule.name": "none", "schedule.warmup_epochs": 0, "optimizer.weight_decay": 0.0,
        "model.dropout": 0.0, "data.augment": [], "training.grad_clip": None,
    })
    gaps = by_id(find_all(evidence(seeds(), config=config)))["config_gaps"]
    assert gaps.evidence["missing"] == 4
    assert gaps.evidence["settings"] == [
        "schedule.name", "regularization", "data.augment", "training.grad_clip"
    ]
    assert gaps.severity == "medium"
    assert not gaps.root_cause
