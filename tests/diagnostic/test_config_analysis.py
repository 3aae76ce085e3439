"""phases.diagnostic.config_analysis: each setting's status (good, warning, missing) and why."""

from __future__ import annotations

from pathlib import Path

from phases.diagnostic.config_analysis import analyze_config, is_image_data
from phases.diagnostic.evidence import Evidence, SeedRun
from tests.diagnostic.histories import clean_config, evidence, history, seeds
from workflow.trainer.config import TrainConfig


def _status(config: TrainConfig, evidence: Evidence | None = None) -> dict[str, str]:
    return {row.setting: row.status for row in analyze_config(config, evidence)}


def test_clean_config_is_all_good() -> None:
    # schedule, regularization, augmentation, clipping, early stopping: nothing to flag
    assert set(_status(clean_config()).values()) == {"good"}


def test_trainer_defaults_on_images_have_the_known_gaps() -> None:
    # no schedule, no regularization, no augmentation on images, no clipping: each missing;
    # no early stopping is a warning (the best checkpoint is kept anyway)
    status = _status(TrainConfig())
    assert status["schedule.name"] == "missing"
    assert status["regularization"] == "missing"
    assert status["data.augment"] == "missing"
    assert status["training.grad_clip"] == "missing"
    assert status["training.early_stopping"] == "warning"
    assert status["optimizer.lr"] == "good"


def test_augmentation_is_optional_off_images() -> None:
    # a user's tabular dataset with an mlp is not images: no augmentation is fine
    config = TrainConfig.model_validate({"data": {"dataset": "mymod:load"}})
    assert not is_image_data(config)
    assert _status(config)["data.augment"] == "good"
    assert is_image_data(config.with_changes({"model.name": "cnn"}))


def test_lr_outside_the_usual_range_is_a_warning() -> None:
    # adam at lr 5.0 is far above adam's usual 1e-5..1e-2
    rows = {r.setting: r for r in analyze_config(clean_config(**{"optimizer.lr": 5.0}))}
    assert rows["optimizer.lr"].status == "warning"
    assert "above the usual adamw range" in rows["optimizer.lr"].note


def test_lr_far_from_the_range_test_is_a_warning() -> None:
    # within adam's range, but 10x the range test's suggestion
    ev = evidence(seeds(), probes={"lr_range": {"suggested_lr": 1e-4}})
    rows = {r.setting: r for r in analyze_config(ev.config, ev)}
    assert rows["optimizer.lr"].status == "warning"
    assert "range test" in rows["optimizer.lr"].note


def test_batch_size_far_from_the_data_or_the_device() -> None:
    # a batch of 64 on 100 training samples is 2 steps an epoch; a batch of 8 is small; a batch
    # 4x under what the batch probe found saturates the device is a warning too
    config = clean_config()
    ev = Evidence(runs=[SeedRun(0, "completed", history(3), train_size=100)], config=config)
    rows = {r.setting: r for r in analyze_config(config, ev)}
    assert rows["data.batch_size"].status == "warning"
    assert "2 steps per epoch on 100 samples" in rows["data.batch_size"].note
    assert _status(clean_config(**{"data.batch_size": 8}))["data.batch_size"] == "warning"
    probed = evidence(seeds(), probes={"batch": {"suggested_batch_size": 512}})
    assert _status(probed.config, probed)["data.batch_size"] == "warning"


def test_pretrained_backbone_at_the_heads_lr(tmp_path: Path) -> None:
    # pretrained weights trained at the head's lr: a warning naming optimizer.backbone_lr
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    config = clean_config(**{"model.name": "resnet18", "model.pretrained": str(weights)})
    rows = {r.setting: r for r in analyze_config(config)}
    assert rows["model.pretrained"].status == "warning"
    assert "backbone_lr" in rows["model.pretrained"].note
    fixed = config.with_changes({"optimizer.backbone_lr": 1e-4})
    assert _status(fixed)["model.pretrained"] == "good"
