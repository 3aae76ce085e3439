"""workflow.trainer.together: K seeds trained as one vectorized model, each as fit trains it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import tiny_config
from workflow.trainer import fit
from workflow.trainer.config import TrainConfig
from workflow.trainer.result import RunResult
from workflow.trainer.together import fit_together, why_not

SEEDS = [0, 1, 2]
COMPARED = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1", "lr")


def _close(together: RunResult, alone: RunResult) -> None:
    assert len(together.history) == len(alone.history)
    for mine, theirs in zip(together.history, alone.history, strict=True):
        assert mine["epoch"] == theirs["epoch"]
        for key in COMPARED:
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-5), (key, mine)
    assert together.best_epoch == alone.best_epoch and together.status == alone.status


# rule: each member's history equals its sequential run's within floating-point tolerance
# (its own initialization, its own batch order), for SGD with momentum and for Adam, an MLP
# and a small CNN with batch norm (each member's own batch statistics); its run folder
# holds what fit writes, and its checkpoint's weights are those of the sequential run's
@pytest.mark.parametrize("overrides", [
    {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}},
    {"model": {"name": "mlp", "widths": [32, 16]}, "schedule": {"name": "cosine"}},
    {"model": {"name": "cnn", "channels": [4, 8], "dropout": 0.0}, "training": {"epochs": 2},
     "data": {"dataset": "digits", "max_samples": 200, "batch_size": 32}},
])
def test_members_match_sequential_runs(tmp_path: Path, overrides: dict) -> None:
    config = TrainConfig.model_validate(tiny_config(**overrides))
    assert why_not(config) is None
    heard: list[tuple[int, int]] = []
    together = fit_together(config, SEEDS, tmp_path / "together",
                            report=lambda seed, epoch, row: heard.append((seed, epoch)))
    assert together is not None
    assert sorted(heard) == sorted((s, e) for s in SEEDS for e in range(1, 3))
    for seed in SEEDS:
        alone = fit(config, seed, tmp_path / "alone" / f"seed-{seed}")
        _close(together[seed], alone)
        folder = tmp_path / "together" / f"seed-{seed}"
        loaded = RunResult.load(folder)
        assert loaded.extra["trained_together"] == SEEDS
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            p.name for p in (tmp_path / "alone" / f"seed-{seed}").iterdir())
        mine = torch.load(folder / "checkpoints/last.pt", weights_only=False)["model"]
        theirs = torch.load(tmp_path / "alone" / f"seed-{seed}/checkpoints/last.pt",
                            weights_only=False)["model"]
        assert mine.keys() == theirs.keys()
        for name in mine:
            assert torch.allclose(mine[name], theirs[name], rtol=1e-3, atol=1e-5), name


# rule: what acts per member or per batch statistics keeps the seeds apart, and says why
def test_what_cannot_train_together() -> None:
    assert "dropout" in (why_not(TrainConfig.model_validate(tiny_config(model={
        "name": "mlp", "widths": [32], "dropout": 0.2})), _built(dropout=0.2)) or "")
    stop = tiny_config(training={"epochs": 2, "early_stopping": {"patience": 2}})
    assert "early stopping" in (why_not(TrainConfig.model_validate(stop)) or "")
    assert why_not(TrainConfig.model_validate(tiny_config()),
                   torch.nn.Sequential(torch.nn.BatchNorm1d(3))) is None  # per member, as alone


def _built(dropout: float) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(dropout))


# rule: an arm of a small model run with two workers trains its seeds together, one group
# per worker of the command's warm pool, and every epoch of every seed is heard; with no
# pool, when the first seed measured the job too small for one, the other seeds train
# together here; a config with dropout trains one seed at a time
def test_an_arm_of_a_small_model_trains_together(tmp_path: Path, monkeypatch: Any) -> None:
    from workflow import pool, runner
    from workflow.runner import train_seeds

    config = TrainConfig.model_validate(tiny_config())
    pool.command_pool(2)
    heard: list[tuple[int, int]] = []
    results = train_seeds(config, [0, 1, 2, 3], tmp_path / "small", workers=2,
                          on_epoch=lambda seed, epoch, row: heard.append((seed, epoch)))
    assert {s: r.extra.get("trained_together") for s, r in results.items()} == {
        0: [0, 2], 1: [1, 3], 2: [0, 2], 3: [1, 3]}
    assert sorted(heard) == [(s, e) for s in range(4) for e in (1, 2)]
    pool.discard(pool.command_pool(2))
    monkeypatch.setattr(runner, "_COLD_S", 30.0)
    here = train_seeds(config, [0, 1, 2, 3], tmp_path / "here", workers=2)
    assert {s: r.extra.get("trained_together") for s, r in here.items()} == {
        0: None, 1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]}
    dropout = config.with_changes({"model.dropout": 0.2})
    alone = train_seeds(dropout, [0, 1], tmp_path / "dropout", workers=2)
    assert all("trained_together" not in r.extra for r in alone.values())
