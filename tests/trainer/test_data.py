"""Datasets: the embedded default, local torchvision and image folders, a user's function.

Nothing here downloads: every dataset is bundled with a registry package or made by the test.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config
from workflow.errors import DataError
from workflow.trainer import RunStatus, fit
from workflow.trainer.config import DataConfig
from workflow.trainer.data import load_data


def test_digits_splits_are_fixed_disjoint_and_hide_the_test_split() -> None:
    # train / val / test come from one recorded split seed; `train` never sees the test split
    bundle = load_data(DataConfig())
    sizes = bundle.split_info["sizes"]
    assert sizes == {"train": 1257, "val": 270, "test": 270}
    assert bundle.test is None
    assert bundle.input_shape == (1, 8, 8) and bundle.num_classes == 10
    again = load_data(DataConfig())
    assert bundle.split_info["index_sha256"] == again.split_info["index_sha256"]
    other = load_data(DataConfig(split_seed=1))
    assert other.split_info["index_sha256"] != bundle.split_info["index_sha256"]
    with_test = load_data(DataConfig(), include_test=True)
    assert with_test.test is not None and len(with_test.test) == 270
    # normalized with the training split's statistics
    assert abs(float(bundle.train.x.mean())) < 1e-4


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's IDX format: magic (dtype 0x08, ndim), the dims, then the raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_dataset_reads_a_local_folder_and_its_official_test_split(
    tmp_path: Path,
) -> None:
    # torchvision:MNIST reads the files already in `root`; its own test split is the test split
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 120), ("t10k", 40)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 255, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    config = DataConfig(dataset="torchvision:MNIST", root=str(tmp_path), image_size=14)
    bundle = load_data(config, include_test=True)
    assert bundle.split_info["test_source"] == "official"
    assert len(bundle.train) + len(bundle.val) == 120
    assert bundle.test is not None and len(bundle.test) == 40
    assert bundle.input_shape == (1, 14, 14)


def test_missing_local_dataset_is_one_line_saying_nothing_was_downloaded(tmp_path: Path) -> None:
    # an empty root is a DataError, and phasegate never downloads on its own
    config = DataConfig(dataset="torchvision:MNIST", root=str(tmp_path))
    with pytest.raises(DataError, match="never downloads unless data.download: true"):
        load_data(config)


def test_image_folder_trains(tmp_path: Path) -> None:
    # an ImageFolder of real PNG files, resized on load, trains end to end
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    config = tiny_config(
        data={
            "dataset": "imagefolder",
            "root": str(tmp_path / "images"),
            "image_size": 16,
            "batch_size": 8,
            "augment": [{"name": "hflip"}],
        },
        model={"name": "cnn", "channels": [4]},
        training={"epochs": 1},
    )
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.COMPLETED
    assert result.extra["split"]["sizes"]["train"] == 24 - 2 * 4


def tabular(root: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A user's dataset function: 200 rows of 5 features, two classes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_user_dataset_function_trains(tmp_path: Path) -> None:
    # data.dataset: module:function returning (x, y) trains like the built-ins
    config = tiny_config(
        data={"dataset": "tests.trainer.test_data:tabular", "batch_size": 16},
        training={"epochs": 3},
    )
    result = fit(config, 0, tmp_path / "run")
    assert result.status is RunStatus.COMPLETED
    assert result.best["val_accuracy"] > 0.7


def test_image_augmentation_on_tabular_data_is_refused(tmp_path: Path) -> None:
    # an image-only augmentation on non-image data is bad input, caught before training
    config = tiny_config(
        data={"dataset": "tests.trainer.test_data:tabular", "augment": [{"name": "rotation"}]}
    )
    with pytest.raises(DataError, match="'rotation' needs images"):
        fit(config, 0, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_in_memory_batches_are_indexed_on_the_device(tmp_path: Path) -> None:
    # small datasets are held as tensors: the split tensors are plain contiguous tensors
    bundle = load_data(DataConfig())
    assert isinstance(bundle.train.x, torch.Tensor) and bundle.train.x.is_contiguous()


# rule (issue 16): the bundled digits are read from scikit-learn's CSV without importing
# scikit-learn, and are exactly what its own reader gives
def test_digits_are_read_without_importing_sklearn_and_match_its_reader() -> None:
    import subprocess
    import sys

    import numpy as np
    from sklearn.datasets import load_digits

    from workflow.trainer.sources import digits_arrays

    pixels, target = digits_arrays()
    bunch = load_digits()
    assert np.array_equal(pixels, bunch.data) and np.array_equal(target, bunch.target)
    probe = ("import sys; from workflow.trainer.config import DataConfig; "
             "from workflow.trainer.data import load_data; load_data(DataConfig()); "
             "print('sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"
