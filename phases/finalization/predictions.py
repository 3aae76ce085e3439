"""The saved look at the test split: `phase5/test_predictions.csv`, its metadata and its hash.

The CSV holds one row per test example (`index,target,<arm>...`); its sha256 is
recorded by the test lock (`phase5.test_lock`). Everything after the look
reads the predictions back from here (`recorded_evaluation`, hash checked):
they are never recomputed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow.errors import DataError, StateError
from workflow.facts import read_facts
from workflow.io import atomic_write_text, read_json, sha256_file
from workflow.store import Store

__all__ = [
    "META_FILE",
    "PREDICTIONS_FILE",
    "TestEvaluation",
    "read_meta",
    "read_trainer_metrics",
    "recorded_evaluation",
    "write_predictions",
]

PREDICTIONS_FILE = "phase5/test_predictions.csv"
META_FILE = "phase5/test_predictions.meta.json"


@dataclass(frozen=True)
class TestEvaluation:
    """The one recorded look at the test split: targets and each arm's predicted classes."""

    __test__ = False  # not a pytest class, despite the name

    targets: list[Any]  # class indices (int) for a classifier, numbers for a regression
    predictions: dict[str, list[Any]]
    class_names: list[str]
    evaluated_at: str
    by: str
    sha256: str
    split: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.targets)


def recorded_evaluation(store: Store) -> TestEvaluation | None:
    """The recorded look, read back from the saved CSV (hash checked), or None if none was."""
    phase5 = read_facts(store).phase5
    lock = phase5.test_lock
    path = store.run_dir / PREDICTIONS_FILE
    if not phase5.test_evaluations or lock is None:
        return None
    if not path.is_file():
        raise StateError(f"{path}: the test lock recorded it at {lock.evaluated_at}, "
                         "but it is gone; the test split is not evaluated again")
    digest = sha256_file(path)
    if digest != lock.sha256:
        raise StateError(
            f"{path} changed after the test lock recorded it (sha256 "
            f"{lock.sha256[:12]} -> {digest[:12]}); restore it: the test split is "
            "not evaluated again"
        )
    targets, predictions = read_predictions(path)
    return TestEvaluation(
        targets=targets,
        predictions=predictions,
        class_names=list(lock.class_names),
        evaluated_at=lock.evaluated_at,
        by=lock.by,
        sha256=digest,
        split=dict(lock.split),
    )


def write_predictions(path: Path, targets: list[Any], predictions: Mapping[str, list[Any]]) -> None:
    """index,target,<arm>... one row per test example."""
    arms = list(predictions)
    for arm in arms:
        if len(predictions[arm]) != len(targets):
            raise DataError(f"arm {arm!r} has {len(predictions[arm])} predictions for "
                            f"{len(targets)} test examples")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "target", *arms])
    for i, target in enumerate(targets):
        writer.writerow([i, _cell(target), *(_cell(predictions[a][i]) for a in arms)])
    atomic_write_text(path, buffer.getvalue())


def _cell(value: Any) -> str:
    # a class index as itself, a number with every digit (repr round-trips a float)
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def _number(text: str) -> int | float:
    """A saved value: an int where it was one (a class), else a float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def read_predictions(path: Path) -> tuple[list[Any], dict[str, list[Any]]]:
    """The targets and each arm's predictions of a saved CSV."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows or rows[0][:2] != ["index", "target"]:
            raise StateError(f"{path}: expected a header index,target,<arm>...")
        arms = rows[0][2:]
        targets = [_number(r[1]) for r in rows[1:]]
        predictions = {arm: [_number(r[2 + k]) for r in rows[1:]] for k, arm in enumerate(arms)}
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: not a predictions file ({exc.__class__.__name__})") from None
    return targets, predictions


def read_meta(path: Path) -> dict[str, Any]:
    """The arms, class names and split of a saved CSV, from the metadata written before it."""
    _, predictions = read_predictions(path)
    meta = read_json(path.parent / Path(META_FILE).name)
    return {"arms": list(predictions), "class_names": list(meta.get("class_names", [])),
            "split": dict(meta.get("split", {}))}


def read_trainer_metrics(store: Store) -> dict[str, dict[str, float]]:
    """Each arm's metrics as the trainer's `evaluate` computed them on the test split
    (saved beside the predictions; empty for phasegate's own trainer)."""
    path = store.run_dir / META_FILE
    return dict(read_json(path).get("metrics", {})) if path.is_file() else {}
