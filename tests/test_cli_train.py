"""`phasegate train` through the real console entry: files written, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import tiny_config

REPO = Path(__file__).resolve().parents[1]


def phasegate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workflow", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def write_config(tmp_path: Path, config: dict[str, object]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_train_on_the_shipped_baseline_writes_every_file(tmp_path: Path) -> None:
    # the README's example: configs/baseline.yaml, seed 42, every file of a run written
    out = tmp_path / "demo"
    config = yaml.safe_load((REPO / "configs" / "baseline.yaml").read_text())
    config["training"]["epochs"] = 2  # the shipped config, shortened for the test
    done = phasegate(
        "train", str(write_config(tmp_path, config)), "--seed", "42", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "completed: best val_accuracy" in done.stdout
    for name in (
        "config.yaml",
        "history.csv",
        "metrics.json",
        "val_predictions.csv",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"status", "best_epoch", "best", "final"} <= set(metrics)
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == 42


def test_diverging_run_exits_1_with_one_line(tmp_path: Path) -> None:
    # lr 1e6: status diverged in metrics.json, exit 1, one line and no traceback; the
    # progress bar is on stderr too (never on stdout), above that one line
    config = tiny_config(optimizer={"name": "sgd", "lr": 1e6})
    out = tmp_path / "run"
    done = phasegate("train", str(write_config(tmp_path, config)), "--out", str(out))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("phasegate: run diverged: loss")
    assert [line for line in lines if line.startswith("phasegate:")] == lines[-1:]
    assert done.stdout == ""
    assert json.loads((out / "metrics.json").read_text())["status"] == "diverged"


def test_json_is_alone_on_stdout(tmp_path: Path) -> None:
    # train --json: stdout is one JSON document (metrics.json's content); the progress bar
    # is on stderr
    out = tmp_path / "run"
    done = phasegate("train", str(write_config(tmp_path, tiny_config())), "--out", str(out),
                     "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    assert "tiny seed" in done.stderr


def test_typo_in_config_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    # a typo'd key: one line naming the file and the field, exit 2, no output folder
    config = tiny_config()
    config["training"]["epochz"] = 3
    path = write_config(tmp_path, config)
    out = tmp_path / "run"
    done = phasegate("train", str(path), "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"phasegate: {path}: training.epochz: unknown field (allowed: epochs, grad_clip, "
        "label_smoothing, early_stopping, monitor, mixed_precision, stages, channels_last, compile)"
    )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    # a config path that does not exist is bad input
    done = phasegate("train", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and "file not found" in done.stderr


def test_out_inside_a_file_exits_2_with_one_line(tmp_path: Path) -> None:
    # --out under a path that is a file: one line naming the run folder, exit 2, no traceback
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder\n")
    out = blocker / "run"
    done = phasegate("train", str(write_config(tmp_path, tiny_config())), "--out", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"phasegate: {out}: the run folder cannot be created (Not a directory)"
    )


def test_a_seed_out_of_range_exits_2_with_one_line(tmp_path: Path) -> None:
    # --seed 2**64 or -5 would crash the generators' seeding: one line, exit 2, nothing written
    path = write_config(tmp_path, tiny_config())
    for seed in (str(2**64), "-5"):
        out = tmp_path / "run"
        done = phasegate("train", str(path), "--seed", seed, "--out", str(out))
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (
            f"phasegate: --seed must be a whole number from 0 to {2**32 - 1}, but got {seed}"
        )
        assert not out.exists()
