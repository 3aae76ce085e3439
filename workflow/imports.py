"""A baseline trained elsewhere, read from the folders other tools log to.

`phasegate baseline NAME --import DIR` reads one folder per seed,
`DIR/seed-<n>/`, holding any of

- phasegate's own layout: `history.csv` (one row per epoch);
- a Lightning `CSVLogger` folder: a `metrics.csv` anywhere below it
  (`version_0/metrics.csv`), with several rows per epoch (a training row, a
  validation row) and empty cells where a row logged nothing;
- a TensorBoard log folder: `events.out.tfevents.*` files anywhere below it,
  one scalar per tag and step.

The last two are turned into phasegate's `history.csv`, one row per epoch
(epochs counted from 1), each column the last value logged in that epoch.
Tag names become column names with `/` and `-` read as `_` (`val/loss` is
`val_loss`, `val_acc` stays `val_acc`: the project's `target.metric` names the
one it is judged on). TensorBoard steps are read as epochs when the tags were
logged once per epoch; when they were logged per batch, the epoch is Lightning's
`epoch` scalar if present.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from workflow.errors import DataError
from workflow.trainer.user_run import _write_history

__all__ = ["FORMATS", "convert_import", "detect_format", "read_lightning", "read_tensorboard"]

FORMATS = ("auto", "phasegate", "lightning", "tensorboard")
_SEED = re.compile(r"^seed-(\d+)$")


def detect_format(folder: Path) -> str:
    """phasegate, lightning or tensorboard: what the seed folders of `folder` hold."""
    seeds = _seed_dirs(folder)
    if not seeds:
        raise DataError(f"{folder}: no seed-<n> folders to import (expected {folder}/seed-0/...)")
    first = next(iter(seeds.values()))
    if (first / "history.csv").is_file():
        return "phasegate"
    if next(first.rglob("metrics.csv"), None) is not None:
        return "lightning"
    if next(first.rglob("events.out.tfevents.*"), None) is not None:
        return "tensorboard"
    raise DataError(f"{first}: holds no history.csv, no Lightning metrics.csv and no "
                    "TensorBoard event file")


def convert_import(folder: Path, dest: Path, fmt: str = "auto") -> Path:
    """The folder to import in phasegate's layout: `folder` itself, or `dest` holding each
    seed's history.csv converted from Lightning or TensorBoard logs."""
    if fmt not in FORMATS:
        raise DataError(f"--format must be one of {', '.join(FORMATS)}, but got {fmt!r}")
    found = detect_format(folder) if fmt == "auto" else fmt
    if found == "phasegate":
        return folder
    for seed, seed_dir in sorted(_seed_dirs(folder).items()):
        rows = read_lightning(seed_dir) if found == "lightning" else read_tensorboard(seed_dir)
        if not rows:
            raise DataError(f"{seed_dir}: its {found} logs hold no epoch")
        out = dest / f"seed-{seed}"
        out.mkdir(parents=True, exist_ok=True)
        _write_history(out / "history.csv", rows)
    return dest


def read_lightning(folder: Path) -> list[dict[str, float]]:
    """The epochs of a Lightning CSVLogger folder's metrics.csv (the newest version's)."""
    files = sorted(folder.rglob("metrics.csv"))
    if not files:
        raise DataError(f"{folder}: no Lightning metrics.csv below it")
    with open(files[-1], newline="") as handle:
        records = list(csv.DictReader(handle))
    if not records or "epoch" not in records[0]:
        raise DataError(f"{files[-1]}: not a Lightning CSVLogger file (no epoch column)")
    by_epoch: dict[int, dict[str, float]] = {}
    for record in records:
        values = {k: _float(v) for k, v in record.items() if k not in ("epoch", "step")}
        epoch = _float(record.get("epoch"))
        if epoch is None:
            continue
        row = by_epoch.setdefault(int(epoch), {})
        row.update({_column(k): v for k, v in values.items() if v is not None})
    return _numbered(by_epoch)


def read_tensorboard(folder: Path) -> list[dict[str, float]]:
    """The epochs of a TensorBoard log folder (every event file below it)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise DataError("reading TensorBoard logs needs the tensorboard package: "
                        "pip install 'phasegate[tensorboard]'") from None
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags().get("scalars", []):
            scalars.setdefault(tag, []).extend((e.step, float(e.value))
                                               for e in events.Scalars(tag))
    if not scalars:
        raise DataError(f"{folder}: its TensorBoard logs hold no scalars")
    epoch_of = _epochs(scalars)
    by_epoch: dict[int, dict[str, float]] = {}
    for tag, points in scalars.items():
        if tag == "epoch":
            continue
        for step, value in sorted(points):
            by_epoch.setdefault(epoch_of(step), {})[_column(tag)] = value
    return _numbered(by_epoch)


def _epochs(scalars: Mapping[str, list[tuple[int, float]]]) -> _EpochOf:
    # Lightning logs an `epoch` scalar at each step: a per-batch log's steps map through it
    return _EpochOf({step: int(value) for step, value in scalars.get("epoch", [])})


class _EpochOf:
    """Step -> epoch: through the `epoch` scalar where logged, else the step itself."""

    def __init__(self, table: dict[int, int]) -> None:
        self._steps = sorted(table)
        self._table = table

    def __call__(self, step: int) -> int:
        if not self._table:
            return step
        earlier = [s for s in self._steps if s <= step]
        return self._table[earlier[-1]] if earlier else self._table[self._steps[0]]


def _numbered(by_epoch: Mapping[int, dict[str, float]]) -> list[dict[str, float]]:
    """One row per epoch, in order, numbered from 1 whatever the source counted from."""
    return [{"epoch": i + 1, **by_epoch[e]} for i, e in enumerate(sorted(by_epoch))
            if by_epoch[e]]


def _column(tag: str) -> str:
    return re.sub(r"[/\-. ]+", "_", tag.strip()).strip("_")


def _float(text: str | None) -> float | None:
    if text in (None, ""):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value  # a NaN loss stays NaN: the import marks that seed diverged


def _seed_dirs(folder: Path) -> dict[int, Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    found: Iterable[Path] = folder.iterdir()
    return {int(m.group(1)): p for p in found if p.is_dir() and (m := _SEED.match(p.name))}
