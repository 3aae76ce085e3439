"""Splits a dataset gives: kept exactly, never mixed with the others, recorded with their source.

Each sample of these datasets carries its own id in feature 0, so a test can tell by
identity which samples landed in which split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config
from tests.trainer.test_data import write_idx
from workflow.errors import ConfigError, DataError
from workflow.io import read_json
from workflow.trainer import fit
from workflow.trainer.config import DataConfig, TrainConfig
from workflow.trainer.data import DataBundle, load_data
from workflow.trainer.provenance import describe_splits

SIZES = {"train": 120, "val": 30, "test": 40}
FIRST_ID = {"train": 0, "val": 1000, "test": 2000}


def _rows(split: str) -> tuple[np.ndarray, np.ndarray]:
    """`SIZES[split]` samples: id, then 3 features; the label is the sign of feature 1."""
    rng = np.random.default_rng(FIRST_ID[split])
    n = SIZES[split]
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[:, 0] = FIRST_ID[split] + np.arange(n)
    return x, (x[:, 1] > 0).astype(np.int64)


def named_splits(root: str | None) -> dict[str, Any]:
    """A user's dataset function giving train, val and test."""
    return {"train": _rows("train"), "val": _rows("val"), "test": _rows("test"),
            "class_names": ["negative", "positive"]}


def train_and_test(root: str | None) -> dict[str, Any]:
    """A user's dataset function giving train and its official test split, no val."""
    return {"train": _rows("train"), "test": _rows("test")}


def bad_keys(root: str | None) -> dict[str, Any]:
    return {"train": _rows("train"), "holdout": _rows("test")}


def ids(bundle: DataBundle, split: str) -> list[int]:
    """The ids of the samples of `split`, read back through the training normalization."""
    part = getattr(bundle, split)
    mean = torch.tensor(bundle.normalization["mean"])
    std = torch.tensor(bundle.normalization["std"])
    return [int(round(v)) for v in (part.x * std + mean)[:, 0].tolist()]


def test_named_splits_are_kept_exactly_and_the_test_split_never_trains() -> None:
    # train, val and test as the function gives them: same samples, same order, no crossing
    bundle = load_data(DataConfig(dataset="tests.trainer.test_splits:named_splits"),
                       include_test=True)
    given = {s: [FIRST_ID[s] + i for i in range(SIZES[s])] for s in SIZES}
    assert ids(bundle, "test") == given["test"]
    assert ids(bundle, "val") == given["val"]
    assert sorted(ids(bundle, "train")) == given["train"]
    assert not set(ids(bundle, "test")) & (set(ids(bundle, "train")) | set(ids(bundle, "val")))
    assert bundle.test is not None
    assert bundle.test.y.tolist() == _rows("test")[1].tolist()
    assert bundle.class_names == ["negative", "positive"]
    info = bundle.split_info
    assert info["sizes"] == SIZES
    assert info["test_source"] == "given"
    given_by = "split given by tests.trainer.test_splits:named_splits"
    assert info["sources"] == {s: f"the {s} {given_by}" for s in SIZES}
    # the test split is handed out only when asked for
    assert load_data(DataConfig(dataset="tests.trainer.test_splits:named_splits")).test is None


def test_a_missing_val_split_is_carved_from_train_with_the_split_seed() -> None:
    # no val given: it is carved from the given train split by split_seed; test stays whole
    config = DataConfig(dataset="tests.trainer.test_splits:train_and_test", val_fraction=0.25)
    bundle = load_data(config, include_test=True)
    train, val = ids(bundle, "train"), ids(bundle, "val")
    assert len(val) == 30 and len(train) == 90
    assert sorted(train + val) == list(range(120))
    assert ids(bundle, "test") == [2000 + i for i in range(40)]
    assert bundle.split_info["sources"] == {
        "train": "the train split given by tests.trainer.test_splits:train_and_test, "
                 "less the val carved from it",
        "val": "carved from the train split given by tests.trainer.test_splits:train_and_test "
               "(0.25, split seed 0)",
        "test": "the test split given by tests.trainer.test_splits:train_and_test"}
    again = load_data(config.model_copy(update={"split_seed": 1}))
    assert ids(again, "val") != val


@pytest.mark.parametrize(("dataset", "setting", "named"), [
    ("named_splits", {"test_fraction": 0.2}, "test_fraction"),
    ("named_splits", {"val_fraction": 0.2}, "val_fraction"),
    ("train_and_test", {"test_fraction": 0.1}, "test_fraction"),
])
def test_a_fraction_for_a_given_split_is_an_error_naming_it(
    dataset: str, setting: dict[str, float], named: str
) -> None:
    # a fraction the dataset's own split makes meaningless is refused, never ignored
    config = DataConfig(dataset=f"tests.trainer.test_splits:{dataset}", **setting)
    with pytest.raises(DataError, match=rf"data\.{named}: .* does not apply: .* remove {named}"):
        load_data(config)


def test_torchvision_test_fraction_is_refused_with_its_official_test_split(
    tmp_path: Path,
) -> None:
    # torchvision's official test split is the test split: test_fraction cannot apply
    with pytest.raises(ValueError, match="test_fraction does not apply.*official test split"):
        DataConfig(dataset="torchvision:MNIST", root=str(tmp_path), test_fraction=0.2)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 60), ("t10k", 20)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", np.full((n, 28, 28), 7))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    bundle = load_data(DataConfig(dataset="torchvision:MNIST", root=str(tmp_path)))
    assert bundle.split_info["sources"]["test"] == "torchvision's official MNIST test split"
    assert bundle.split_info["sizes"] == {"train": 51, "val": 9, "test": 20}


def test_a_mapping_with_unknown_splits_is_one_line() -> None:
    # a typo in a split's name is an error naming it, not a silently dropped split
    with pytest.raises(DataError, match=r"'test' and 'class_names' \(not holdout\)"):
        load_data(DataConfig(dataset="tests.trainer.test_splits:bad_keys"))


def write_split_folder(root: Path, counts: dict[str, int], size: int = 10) -> dict[str, set[str]]:
    """root/<split>/<class>/<n>.png, each image one flat colour; the files of each split."""
    from PIL import Image

    files: dict[str, set[str]] = {}
    for split, n in counts.items():
        files[split] = set()
        for label, colour in (("cat", 40), ("dog", 200)):
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                shade = colour + i + (5 if split == "test" else 0)
                path = root / split / label / f"{i}.png"
                Image.fromarray(np.full((size, size, 3), shade, dtype=np.uint8)).save(path)
                files[split].add(str(path))
    return files


def test_an_image_folder_with_train_val_test_folders_is_used_as_given(tmp_path: Path) -> None:
    # train/ val/ test/ subfolders are the three splits, their classes the train/ folder's
    write_split_folder(tmp_path / "images", {"train": 8, "val": 3, "test": 4})
    config = DataConfig(dataset="imagefolder", root=str(tmp_path / "images"), image_size=8)
    assert config.val_fraction is None and config.test_fraction is None
    bundle = load_data(config, include_test=True)
    assert bundle.split_info["sizes"] == {"train": 16, "val": 6, "test": 8}
    assert bundle.split_info["test_source"] == "given"
    sources = bundle.split_info["sources"]
    assert sources["test"] == f"the test/ folder of {tmp_path / 'images'}"
    assert sources["val"] == f"the val/ folder of {tmp_path / 'images'}"
    assert bundle.class_names == ["cat", "dog"]
    # each test image is its own shade (class colour + index + 5): the test split is the folder
    assert bundle.test is not None
    mean = torch.tensor(bundle.normalization["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(bundle.normalization["std"]).view(1, 3, 1, 1)
    shades = ((bundle.test.x * std + mean)[:, 0, 0, 0] * 255).round().int().tolist()
    assert sorted(shades) == [45, 46, 47, 48, 205, 206, 207, 208]
    assert bundle.test.y.tolist() == [0] * 4 + [1] * 4
    # a fraction for a split the folders give is refused when the config is read
    with pytest.raises(ValueError, match="val_fraction does not apply.*the val/ folder"):
        DataConfig(dataset="imagefolder", root=str(tmp_path / "images"), val_fraction=0.2)


def test_a_class_in_test_that_train_lacks_is_refused(tmp_path: Path) -> None:
    # labels come from train/'s classes: a class only test/ has could not be labelled
    write_split_folder(tmp_path / "images", {"train": 3, "test": 2})
    (tmp_path / "images" / "test" / "bird").mkdir()
    config = DataConfig(dataset="imagefolder", root=str(tmp_path / "images"))
    with pytest.raises(DataError, match="class folder 'bird' is not in train/"):
        load_data(config, include_test=True)


def test_metrics_json_records_where_each_split_came_from(tmp_path: Path) -> None:
    # a run's metrics.json names each split's source; the reports print it in one line
    config = tiny_config(data={"dataset": "tests.trainer.test_splits:named_splits",
                               "batch_size": 16}, training={"epochs": 1})
    fit(config, 0, tmp_path / "run")
    split = read_json(tmp_path / "run" / "metrics.json")["extra"]["split"]
    given_by = "split given by tests.trainer.test_splits:named_splits"
    assert split["sources"] == {s: f"the {s} {given_by}" for s in SIZES}
    assert describe_splits(split) == (
        f"train 120 (the train {given_by}); val 30 (the val {given_by}); "
        f"test 40 (the test {given_by})")
    assert describe_splits({"sizes": {"train": 5}}) == (
        "train 5; val not recorded; test not recorded")


def test_unset_fractions_are_written_out_where_the_dataset_gives_no_split() -> None:
    # digits gives no split: both shares apply and are written into the saved config
    config = TrainConfig.model_validate({"data": {"dataset": "digits"}})
    assert (config.data.val_fraction, config.data.test_fraction) == (0.15, 0.15)
    with pytest.raises(ConfigError, match="val_fraction"):
        config.with_changes({"data.val_fraction": 0.6})


@pytest.mark.parametrize(("data", "line"), [
    ({"dataset": "tests.trainer.test_splits:named_splits", "test_fraction": 0.2},
     "data.test_fraction: 0.2 does not apply: dataset 'tests.trainer.test_splits:named_splits' "
     "gives its own test split (the test split given by tests.trainer.test_splits:named_splits, "
     "40 samples); remove test_fraction"),
    ({"dataset": "torchvision:MNIST", "root": ".", "test_fraction": 0.2},
     "test_fraction does not apply: dataset 'torchvision:MNIST' gives its own test split "
     "(torchvision's official test split); remove test_fraction"),
])
def test_train_refuses_a_fraction_that_does_not_apply_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any], line: str
) -> None:
    # phasegate train: exit 2, one line naming the fraction, no run folder
    import yaml

    from workflow.cli import main

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config(data=data)))
    code = main(["train", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and line in err, err
    assert not (tmp_path / "run").exists()
