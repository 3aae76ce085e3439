"""`baseline --import` from the folders other tools log to: a Lightning CSVLogger folder and a
TensorBoard log folder, each written here, read back as phasegate's baseline."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config
from workflow.cli import main
from workflow.errors import DataError
from workflow.imports import convert_import, detect_format, read_lightning, read_tensorboard
from workflow.store import RUNS_ENV, Store

SEEDS = (0, 1, 2)


def _curve(seed: int, epoch: int) -> dict[str, float]:
    """Epoch `epoch` (from 0) of seed `seed`: losses fall, accuracy rises."""
    return {"train_loss": 1.0 / (epoch + 1) + 0.01 * seed, "val_loss": 1.2 / (epoch + 1),
            "train_accuracy": 0.55 + 0.1 * epoch, "val_accuracy": 0.5 + 0.1 * epoch + 0.01 * seed}


def _lightning(root: Path, epochs: int = 3) -> Path:
    """What Lightning's CSVLogger writes: a validation row and a training row per epoch."""
    for seed in SEEDS:
        folder = root / f"seed-{seed}" / "lightning_logs" / "version_0"
        folder.mkdir(parents=True)
        lines = ["epoch,step,train_accuracy,train_loss,val_accuracy,val_loss"]
        for epoch in range(epochs):
            c = _curve(seed, epoch)
            step = 10 * (epoch + 1) - 1
            lines.append(f"{epoch},{step},,,{c['val_accuracy']},{c['val_loss']}")
            lines.append(f"{epoch},{step},{c['train_accuracy']},{c['train_loss']},,")
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return root


def _tensorboard(root: Path, epochs: int = 3) -> Path:
    """TensorBoard event files, one scalar per tag and epoch (tags as `val/loss`)."""
    from torch.utils.tensorboard import SummaryWriter

    for seed in SEEDS:
        writer = SummaryWriter(log_dir=str(root / f"seed-{seed}"))
        for epoch in range(epochs):
            for name, value in _curve(seed, epoch).items():
                split, _, measure = name.partition("_")
                writer.add_scalar(f"{split}/{measure}", value, epoch)
        writer.close()
    return root


# rule: a Lightning CSVLogger file's rows are merged per epoch, numbered from 1
def test_lightning_rows_are_merged_per_epoch(tmp_path: Path) -> None:
    rows = read_lightning(_lightning(tmp_path) / "seed-1")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0] == {"epoch": 1, **{k: pytest.approx(v) for k, v in _curve(1, 0).items()}}


# rule: TensorBoard scalars are read back per step, `val/loss` as val_loss
def test_tensorboard_scalars_are_read_back(tmp_path: Path) -> None:
    rows = read_tensorboard(_tensorboard(tmp_path) / "seed-2")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for row, epoch in zip(rows, range(3), strict=True):
        for name, value in _curve(2, epoch).items():
            assert math.isclose(row[name], value, rel_tol=1e-6)


# rule: the format is found from the seed folders' files; a folder with none is refused
def test_the_format_is_detected(tmp_path: Path) -> None:
    assert detect_format(_lightning(tmp_path / "l")) == "lightning"
    assert detect_format(_tensorboard(tmp_path / "t")) == "tensorboard"
    (tmp_path / "e" / "seed-0").mkdir(parents=True)
    with pytest.raises(DataError, match="no history.csv, no Lightning"):
        convert_import(tmp_path / "e", tmp_path / "out")


@pytest.mark.parametrize("make", [_lightning, _tensorboard])
def test_baseline_import_from_other_loggers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    make: object,
) -> None:
    # rule (acceptance): `phasegate baseline NAME --import DIR` takes a Lightning CSVLogger
    # folder or a TensorBoard folder as it takes phasegate's own layout
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(tiny_config(training={"epochs": 3})))
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "demo", "baseline": "baseline.yaml", "seeds": list(SEEDS),
        "fresh_seeds": [100, 101, 102]}))
    assert main(["init", "demo", "--config", "project.yaml"]) == 0
    logs = make(tmp_path / "logs")  # type: ignore[operator]
    code = main(["baseline", "demo", "--import", str(logs)])
    err = capsys.readouterr().err
    assert code == 0, err
    store = Store.open("demo", tmp_path / "runs")
    assert store.get("baseline.source") == "imported"
    expected = sum(_curve(s, 2)["val_accuracy"] for s in SEEDS) / 3
    assert math.isclose(store.get("baseline.val_accuracy.mean"), expected, rel_tol=1e-6)
