"""Model families: each builds and trains; pretrained weights load from a local file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.conftest import tiny_config
from workflow.errors import ConfigError, DataError
from workflow.trainer import RunStatus, fit
from workflow.trainer.config import ModelConfig
from workflow.trainer.models import build_model


def user_model(num_classes: int, input_shape: tuple[int, ...], hidden: int = 16) -> nn.Module:
    """A user's own model, named in a config as tests.trainer.test_models:user_model."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


@pytest.mark.parametrize(
    ("model", "data"),
    [
        ({"name": "mlp", "width": 16, "depth": 2, "dropout": 0.2}, {}),
        ({"name": "cnn", "channels": [8, 16], "dropout": 0.1}, {}),
        ({"name": "resnet18", "dropout": 0.1}, {}),
        ({"name": "resnet34"}, {}),
        ({"name": "vgg16", "dropout": 0.5}, {"image_size": 32}),  # lr below: no batch norm
        ({"name": "tests.trainer.test_models:user_model", "kwargs": {"hidden": 8}}, {}),
    ],
    ids=["mlp", "cnn", "resnet18", "resnet34", "vgg16", "user"],
)
def test_each_model_family_trains_one_epoch(
    tmp_path: Path, model: dict[str, object], data: dict[str, object]
) -> None:
    # every built-in family (and a user's module:function) trains one short epoch for real
    config = tiny_config(model=model, training={"epochs": 1})
    config["data"].update({"max_samples": 64, **data})
    if model["name"] == "vgg16":
        config["optimizer"]["lr"] = 1e-4
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.COMPLETED
    assert result.history[0]["train_loss"] > 0


def test_pretrained_weights_load_from_a_local_file(tmp_path: Path) -> None:
    # a local state dict (e.g. ImageNet resnet18 saved once) is loaded before the head is replaced
    from torchvision import models

    torch.manual_seed(1)
    reference = models.resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "resnet18.pt")
    config = ModelConfig(name="resnet18", pretrained=str(tmp_path / "resnet18.pt"))
    model, head = build_model(config, (3, 64, 64), num_classes=5)
    assert head == ["fc"]
    assert torch.equal(
        model.state_dict()["layer4.1.conv2.weight"], reference.layer4[1].conv2.weight
    )
    assert model.fc.out_features == 5  # type: ignore[union-attr]


def test_weights_that_do_not_fit_are_one_clear_error(tmp_path: Path) -> None:
    # weights of another architecture: a ConfigError naming the file, not a torch traceback
    from torchvision import models

    torch.save(models.resnet18(weights=None).state_dict(), tmp_path / "r18.pt")
    config = ModelConfig(name="resnet34", pretrained=str(tmp_path / "r18.pt"))
    with pytest.raises(ConfigError, match="does not fit the model"):
        build_model(config, (3, 64, 64), num_classes=5)


def test_vgg16_on_tiny_images_says_what_to_set() -> None:
    # vgg16 pools five times; 8 px digits cannot pass through it, and the error says the fix
    with pytest.raises(DataError, match="data.image_size: 32"):
        build_model(ModelConfig(name="vgg16"), (1, 8, 8), num_classes=10)


def test_freeze_and_head_prefixes_must_name_parameters() -> None:
    # a typo in a layer name is caught at build time, listing the model's modules
    with pytest.raises(ConfigError, match=r"model.freeze: 'bodyy' names no parameter .*body, head"):
        build_model(ModelConfig(name="mlp", freeze=["bodyy"]), (1, 8, 8), num_classes=10)


def test_frozen_layers_do_not_train(tmp_path: Path) -> None:
    # model.freeze keeps those parameters fixed for the whole run
    config = tiny_config(model={"name": "mlp", "widths": [16], "freeze": ["body"]})
    fit(config, 0, tmp_path / "run")
    torch.manual_seed(0)
    initial, _ = build_model(ModelConfig(name="mlp", widths=[16]), (1, 8, 8), 10)
    trained = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert torch.equal(trained["body.1.weight"], initial.state_dict()["body.1.weight"])
    assert not torch.equal(trained["head.weight"], initial.state_dict()["head.weight"])
