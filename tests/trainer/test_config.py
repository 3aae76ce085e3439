"""TrainConfig: every mistake in a YAML file is one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.errors import ConfigError
from workflow.trainer.config import TrainConfig, load_train_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a typo'd key names the field and lists what is allowed
        ("training: {epochz: 3}\n", "training.epochz: unknown field (allowed: epochs,"),
        # a wrong type names the field and shows the value
        ("training: {epochs: many}\n", "training.epochs: Input should be a valid integer"),
        # a value out of range shows the bound and the value
        ("optimizer: {lr: -1}\n", "optimizer.lr: Input should be greater than 0 (got -1)"),
        # an unknown model or dataset lists the allowed names
        ("model: {name: resnet9000}\n", "model.name: unknown model (allowed: mlp, cnn,"),
        ("data: {dataset: imagenet}\n", "data.dataset: unknown dataset (allowed: digits,"),
        # an augmentation's strength is checked inside the discriminated union
        ("data: {augment: [{name: hflip, p: 2}]}\n", "data.augment.0.hflip.p:"),
        ("data: {augment: [{name: zoom}]}\n", "data.augment.0: Input tag 'zoom'"),
        # a pretrained weights file that does not exist is caught before training
        ("model: {name: resnet18, pretrained: nope.pt}\n", "model.pretrained: pretrained weights"),
        # not YAML at all
        ("training: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_train_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    # a missing config file is bad input, named in the message
    with pytest.raises(ConfigError, match="file not found"):
        load_train_config(tmp_path / "absent.yaml")


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    # data.root in a config means "next to this file", wherever the command runs
    (tmp_path / "images").mkdir()
    config = load_train_config(write(tmp_path, "data: {dataset: imagefolder, root: images}\n"))
    assert config.data.root == str((tmp_path / "images").resolve())


def test_stages_set_the_total_epochs() -> None:
    # progressive unfreezing: the run lasts as long as its stages together
    config = TrainConfig.model_validate(
        {"training": {"stages": [{"epochs": 2, "train": ["head"]}, {"epochs": 3, "train": "all"}]}}
    )
    assert config.training.epochs == 5


def test_with_changes_applies_dotted_paths_and_revalidates() -> None:
    # phases patch configs by dotted path; an invalid patch is refused like a bad file
    config = TrainConfig().with_changes({"optimizer.lr": 0.05, "model.dropout": 0.3})
    assert config.optimizer.lr == 0.05 and config.model.dropout == 0.3
    with pytest.raises(ConfigError, match="model.dropout"):
        TrainConfig().with_changes({"model.dropout": 1.5})


def test_yaml_round_trip_is_lossless() -> None:
    # the resolved config written beside a run reloads to the same config
    import yaml

    config = TrainConfig().with_changes({"data.augment": [{"name": "mixup", "alpha": 0.4}]})
    assert TrainConfig.model_validate(yaml.safe_load(config.to_yaml())) == config
