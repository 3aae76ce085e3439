"""Choosing and applying recommendations, the commented config, the diff (no training)."""

from __future__ import annotations

import yaml

from phases.optimization.targeted import (
    AttemptPlan,
    apply,
    change_key,
    config_yaml,
    select,
)
from tests.conftest import tiny_config
from tests.optimization.helpers import rec
from workflow.trainer.commented import config_diff
from workflow.trainer.config import TrainConfig

BASE = TrainConfig.model_validate(tiny_config())
RECS = [
    rec("R1", "HIGH", {"model.dropout": 0.3}),
    rec("R2", "MEDIUM", {"optimizer.weight_decay": 0.01}),
    rec("R3", "LOW", {"schedule.name": "cosine"}),
    rec("R4", "HIGH", {"data.augment": [{"name": "noise", "std": 0.1}]}),
    rec("R5", "LOW", {"training.grad_clip": 1.0}),
]


def ids(chosen: list[dict[str, object]]) -> list[object]:
    return [r["id"] for r in chosen]


def test_targeted_applies_every_high_and_medium() -> None:
    # targeted: all HIGH and MEDIUM recommendations, HIGH first, Phase 3's order within each
    assert ids(select(RECS, mode="targeted")) == ["R1", "R4", "R2"]


def test_targeted_takes_the_top_three_when_none_is_high_or_medium() -> None:
    # targeted: with only LOW recommendations, the top three in Phase 3's order
    lows = [rec(f"R{i}", "LOW", {"training.epochs": i}) for i in range(1, 6)]
    assert ids(select(lows, mode="targeted")) == ["R1", "R2", "R3"]


def test_iterative_takes_the_high_ones_else_the_top_one() -> None:
    # iterative: smaller steps: the HIGH recommendations, or the first one when none is HIGH
    assert ids(select(RECS, mode="iterative")) == ["R1", "R4"]
    assert ids(select(RECS[1:3], mode="iterative")) == ["R2"]


def test_tried_recommendations_are_passed_over() -> None:
    # a set of changes an earlier attempt applied is not applied again
    tried = {change_key({"model.dropout": 0.3}), change_key(RECS[3]["changes"])}
    assert ids(select(RECS, mode="targeted", tried=tried)) == ["R2"]


def test_with_a_base_a_change_it_already_has_is_passed_over() -> None:
    # re-diagnosis rounds: a recommendation that changes nothing in the base is no attempt
    base = BASE.with_changes({"model.dropout": 0.3})
    recs = [rec("R1", "HIGH", {"model.dropout": 0.3}), rec("R2", "HIGH", {}),
            rec("R3", "MEDIUM", {"optimizer.lr": 0.02})]
    assert ids(select(recs, mode="targeted", base=base)) == ["R3"]
    # without a base (the first attempt), Phase 3's plan is applied as it stands
    assert ids(select(recs, mode="targeted")) == ["R1", "R2", "R3"]


def test_apply_patches_every_change_in_order() -> None:
    # the candidate is the base with each recommendation's dotted changes, validated
    config = apply(BASE, select(RECS, mode="targeted"))
    assert config.model.dropout == 0.3
    assert config.optimizer.weight_decay == 0.01
    assert [a.name for a in config.data.augment] == ["noise"]


def test_commented_config_says_what_from_what_and_why_and_parses_back() -> None:
    # every changed line carries `# CHANGED: from <old> — <id> answers <finding>: <why>` or
    # `# NEW: ...`; the YAML loads back to exactly the candidate config
    chosen = [
        {**rec("R1", "HIGH", {"model.dropout": 0.3}), "rationale": "dropout regularizes"},
        rec("R4", "HIGH", {"data.augment": [{"name": "noise", "std": 0.1}]}),
    ]
    config = apply(BASE, chosen)
    text = config_yaml(BASE, config, chosen, header="attempt 1")
    assert text.startswith("# attempt 1\n")
    lines = {line.split(":")[0].strip(): line for line in text.splitlines()}
    assert "# CHANGED: from 0.0 — R1 answers overfitting: dropout regularizes" in lines["dropout"]
    assert "# NEW: R4 answers overfitting" in lines["augment"]
    assert "#" not in lines["lr"]  # an unchanged setting has no comment
    assert TrainConfig.model_validate(yaml.safe_load(text)) == config


def test_diff_lists_only_what_changed() -> None:
    # the config diff: one row per setting that differs, with both values, nothing else
    config = apply(BASE, [rec("R1", "HIGH", {"model.dropout": 0.3, "optimizer.lr": 0.01})])
    assert config_diff(BASE, config) == [{"path": "model.dropout", "from": "0.0", "to": "0.3"}]
    assert config_diff(BASE, BASE) == []


def test_plan_round_trips_through_its_files(tmp_path: object) -> None:
    # a plan is saved before training (plan.json and the commented config) and read back
    from pathlib import Path

    folder = Path(str(tmp_path))
    chosen = select(RECS, mode="targeted")
    plan = AttemptPlan(1, "targeted", "baseline", "phase3", chosen,
                apply(BASE, chosen).model_dump(mode="json"))
    plan.save(folder, BASE)
    assert AttemptPlan.load(folder) == plan
    assert (folder / "optimization_config.yaml").read_text().startswith("# Phase 4 attempt 1")
