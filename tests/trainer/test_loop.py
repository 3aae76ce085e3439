"""The training loop: what a run writes, determinism, divergence, stopping, unfreezing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import tiny_config
from workflow.trainer import RunResult, RunStatus, fit
from workflow.trainer.result import HISTORY_COLUMNS, TIMING_COLUMNS


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_run_writes_every_file(tmp_path: Path) -> None:
    # the run folder holds the resolved config, history, metrics, predictions, checkpoints
    out = tmp_path / "run"
    result = fit(tiny_config(), 3, out)
    for name in ("config.yaml", "history.csv", "metrics.json", "val_predictions.csv"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert {"status", "best_epoch", "best", "final", "wall_time_s", "samples_per_sec"} <= set(
        metrics
    )
    assert 0 < metrics["best"]["val_accuracy"] <= 1
    rows = read_rows(out / "history.csv")
    assert len(rows) == 2 and list(rows[0]) == list(HISTORY_COLUMNS)
    predictions = read_rows(out / "val_predictions.csv")
    assert len(predictions) == metrics["extra"]["split"]["sizes"]["val"]
    # the record on disk is the record returned
    assert RunResult.load(out).best == result.best
    assert not list(tmp_path.glob(".*")), "no staging folder is left behind"


def test_checkpoints_hold_state_and_config_and_load_weights_only(tmp_path: Path) -> None:
    # checkpoints carry model, optimizer and schedule state, the resolved config and the epoch,
    # and load with torch.load(weights_only=True)
    fit(tiny_config(), 0, tmp_path / "run")
    for name in ("best.pt", "last.pt"):
        state = torch.load(tmp_path / "run" / "checkpoints" / name, weights_only=True)
        assert {"model", "optimizer", "schedule", "config", "epoch"} <= set(state)
        assert state["config"]["seed"] == 0
        assert state["config"]["model"]["name"] == "mlp"
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 2


def test_same_seed_gives_the_same_history(tmp_path: Path) -> None:
    # on CPU a seed repeats number for number, timings apart; augmentation included
    config = tiny_config(data__augment=[{"name": "noise", "std": 0.1}, {"name": "mixup"}])
    fit(config, 7, tmp_path / "a")
    fit(config, 7, tmp_path / "b")
    fit(config, 8, tmp_path / "c")

    def strip(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]

    a, b, c = (strip(read_rows(tmp_path / x / "history.csv")) for x in "abc")
    assert a == b
    assert a != c


def test_nan_loss_ends_the_run_as_diverged_with_where(tmp_path: Path) -> None:
    # lr 1e6 drives the loss to NaN: status diverged, the epoch and step recorded, no crash
    config = tiny_config(optimizer={"name": "sgd", "lr": 1e6}, training={"epochs": 3})
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.DIVERGED
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert metrics["diverged_at"]["epoch"] == 1
    assert metrics["diverged_at"]["step"] >= 1
    assert metrics["stop_reason"].startswith("loss ")


def test_early_stopping_stops_and_says_why(tmp_path: Path) -> None:
    # a monitor that cannot improve stops the run after `patience` epochs, with its reason
    config = tiny_config(
        optimizer={"name": "sgd", "lr": 1e-9},
        training={
            "epochs": 20,
            "early_stopping": {
                "monitor": "val_accuracy",
                "mode": "max",
                "patience": 2,
                "min_delta": 0.5,
            },
        },
    )
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.EARLY_STOPPED
    assert len(result.history) == 3
    assert "did not improve" in (result.stop_reason or "")


def test_should_stop_prunes_and_report_sees_every_epoch(tmp_path: Path) -> None:
    # the caller's hooks: report after every epoch; should_stop's reason ends the run as pruned
    seen: list[int] = []
    result = fit(
        tiny_config(training={"epochs": 5}),
        0,
        tmp_path / "run",
        report=lambda epoch, row: seen.append(epoch),
        should_stop=lambda: "median pruner" if len(seen) >= 2 else None,
    )
    assert seen == [1, 2]
    assert result.status is RunStatus.PRUNED and result.stop_reason == "median pruner"


def test_three_stage_progressive_unfreezing(tmp_path: Path) -> None:
    # stage 1 trains the head only, stage 2 the last conv block too, stage 3 everything;
    # the run records which parameters were trainable in each stage, and frozen ones stay put
    config = tiny_config(
        model={"name": "cnn", "channels": [8, 16]},
        training={
            "stages": [
                {"epochs": 1, "train": ["head"], "lr": 0.01},
                {"epochs": 1, "train": ["features.4", "features.5", "head"], "lr": 0.005},
                {"epochs": 1, "train": "all", "lr": 0.001, "backbone_lr": 0.0005},
            ]
        },
    )
    result = fit(config, 0, tmp_path / "run")
    stages = result.extra["stages"]
    assert [s["stage"] for s in stages] == [1, 2, 3]
    assert stages[0]["trainable"] == ["head.weight", "head.bias"]
    assert stages[1]["trainable"] == [
        "features.4.weight",
        "features.5.weight",
        "features.5.bias",
        "head.weight",
        "head.bias",
    ]
    assert "features.0.weight" in stages[2]["trainable"]
    assert (
        stages[0]["trainable_count"] < stages[1]["trainable_count"] < stages[2]["trainable_count"]
    )
    assert [row["stage"] for row in result.history] == [1, 2, 3]
    assert result.history[2]["lr"] == pytest.approx(0.001)

    # the first conv never moved before stage 3: compare a one-stage head-only run's weights
    head_only = tiny_config(
        model={"name": "cnn", "channels": [8, 16]},
        training={"stages": [{"epochs": 2, "train": ["head"]}]},
    )
    fit(head_only, 0, tmp_path / "head-only")
    torch.manual_seed(0)
    from workflow.trainer.models import SmallCNN

    initial = SmallCNN(1, [8, 16], 10, 0.0).state_dict()
    trained = torch.load(tmp_path / "head-only" / "checkpoints" / "last.pt", weights_only=True)
    assert torch.equal(trained["model"]["features.0.weight"], initial["features.0.weight"])
    assert not torch.equal(trained["model"]["head.weight"], initial["head.weight"])


@pytest.mark.parametrize(
    "augment",
    [
        [{"name": "hflip"}],
        [{"name": "random_crop", "padding": 1}],
        [{"name": "rotation", "degrees": 15}],
        [{"name": "affine", "degrees": 5, "translate": 0.1, "scale": [0.9, 1.1]}],
        [{"name": "color_jitter"}],
        [{"name": "blur", "sigma": 0.8}],
        [{"name": "noise", "std": 0.2}],
        [{"name": "mixup", "alpha": 0.4}],
        [{"name": "cutmix", "alpha": 1.0}],
    ],
)
def test_every_augmentation_trains(tmp_path: Path, augment: list[dict[str, object]]) -> None:
    # each augmentation of the config runs in a real (one-epoch) training
    config = tiny_config(data__augment=augment, training={"epochs": 1})
    assert fit(config, 0, tmp_path / "run").status is RunStatus.COMPLETED


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "step", "step_epochs": 1, "gamma": 0.5},
        {"name": "cosine", "warmup_epochs": 1},
        {"name": "linear"},
        {"name": "plateau", "plateau_patience": 0},
        {"name": "onecycle"},
    ],
)
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_optimizers_and_schedules_train(
    tmp_path: Path, schedule: dict[str, object], optimizer: str
) -> None:
    # every optimizer with every schedule trains, with clipping and label smoothing on
    config = tiny_config(
        optimizer={"name": optimizer, "lr": 0.01, "weight_decay": 1e-4},
        schedule=schedule,
        training={"epochs": 2, "grad_clip": 1.0, "label_smoothing": 0.1},
    )
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.COMPLETED
    if schedule["name"] == "step":
        assert [r["lr"] for r in result.history] == pytest.approx([0.01, 0.005])


def test_a_rerun_replaces_the_previous_run(tmp_path: Path) -> None:
    # writing into an existing run folder replaces it whole
    fit(tiny_config(training={"epochs": 3}), 0, tmp_path / "run")
    fit(tiny_config(), 0, tmp_path / "run")
    assert len(read_rows(tmp_path / "run" / "history.csv")) == 2


def test_reduce_on_plateau_lowers_the_lr_between_epochs(tmp_path: Path) -> None:
    # plateau: a monitor that never improves halves the lr after each patience-0 epoch
    config = tiny_config(
        optimizer={"name": "sgd", "lr": 1e-7},
        schedule={"name": "plateau", "plateau_patience": 0, "plateau_factor": 0.5},
        training={"epochs": 4},
    )
    lrs = [row["lr"] for row in fit(config, 0, tmp_path / "run").history]
    assert lrs == pytest.approx([1e-7, 1e-7, 5e-8, 2.5e-8])


def test_mixed_precision_on_cpu_trains_in_bfloat16(tmp_path: Path) -> None:
    # mixed_precision: on uses bfloat16 autocast where CUDA is absent, and says so
    config = tiny_config(model={"name": "cnn", "channels": [8]}, training={"mixed_precision": "on"})
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.COMPLETED
    assert result.extra["mixed_precision"] == "bfloat16"
