"""phases.diagnostic.preview: the patched config as commented YAML that parses back exactly."""

from __future__ import annotations

from pathlib import Path

import yaml

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.preview import change_notes, preview_yaml
from workflow.trainer.config import TrainConfig, load_train_config

AUGMENT = [{"name": "affine", "degrees": 10.0, "translate": 0.1}]


def _rec(rid: str, title: str, **changes: object) -> Recommendation:
    return Recommendation(
        name=title.lower().replace(" ", "_"), title=title, priority="HIGH",
        changes={k.replace("__", "."): v for k, v in changes.items()}, finding="overfitting",
        rationale="r", expected_gain=(0.0, 1.0), risk="r", id=rid,
    )


RECS = [
    _rec("R1", "Add augmentation", data__augment=AUGMENT),
    _rec("R2", "Add dropout", model__dropout=0.3),
    _rec("R3", "Early stopping", training__early_stopping={"monitor": "val_loss", "patience": 5}),
    _rec("R4", "Longer", training__epochs=30),
]


def test_preview_parses_back_to_the_patched_config(tmp_path: Path) -> None:
    # the comments are YAML comments: the file loads as the baseline with every change applied,
    # and as a training config
    config = TrainConfig.model_validate({"training": {"epochs": 10}})
    text = preview_yaml(config, RECS, header="a preview\nsecond line")
    expected = config.with_changes({k: v for r in RECS for k, v in r.changes.items()})
    assert yaml.safe_load(text) == expected.model_dump(mode="json")
    path = tmp_path / "preview.yaml"
    path.write_text(text)
    assert load_train_config(path) == expected
    assert text.startswith("# a preview\n# second line\n")


def test_each_change_says_new_or_changed_from_what() -> None:
    # an absent, null or empty setting is NEW; one with a value is CHANGED, naming the old value
    config = TrainConfig.model_validate({"training": {"epochs": 10}})
    lines = preview_yaml(config, RECS).splitlines()
    assert "  augment:  # NEW: R1 Add augmentation" in lines
    assert "  dropout: 0.3  # CHANGED: from 0.0 (R2 Add dropout)" in lines
    assert "  early_stopping:  # NEW: R3 Early stopping" in lines
    assert "  epochs: 30  # CHANGED: from 10 (R4 Longer)" in lines
    assert sum("# NEW" in line or "# CHANGED" in line for line in lines) == 4
    assert change_notes(config, RECS)["model.dropout"].startswith("CHANGED: from 0.0")
