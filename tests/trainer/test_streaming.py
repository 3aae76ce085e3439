"""The streaming path: same batches, same augmentations, same history as the in-memory path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import tiny_config
from workflow.errors import DataError
from workflow.io import read_json
from workflow.trainer import RunStatus, fit
from workflow.trainer.config import DataConfig
from workflow.trainer.data import Split, load_data
from workflow.trainer.result import PREDICTIONS_FILE, TIMING_COLUMNS
from workflow.trainer.streaming import MIB, StreamSplit

SIZE = 64  # 48 RGB images of 64 x 64 px decode to 2.25 MiB: above a 1 MiB budget


def image_folder(root: Path, per_class: int = 24) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, base in (("cat", 60), ("dog", 160)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(base, 40, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def config(root: Path, **data: Any) -> dict[str, Any]:
    return tiny_config(
        data={"dataset": "imagefolder", "root": str(root), "image_size": SIZE, "batch_size": 8,
              "augment": [{"name": "hflip"}, {"name": "random_crop", "padding": 4}], **data},
        model={"name": "cnn", "channels": [4]},
        training={"epochs": 2},
    )


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def same_history(a: list[dict[str, float]], b: list[dict[str, float]]) -> None:
    assert len(a) == len(b)
    for row_a, row_b in zip(a, b, strict=True):
        assert row_a.keys() == row_b.keys()
        for key in row_a:
            if key not in TIMING_COLUMNS:
                assert math.isclose(row_a[key], row_b[key], rel_tol=1e-6, abs_tol=1e-7), key


def test_streaming_under_a_small_budget_trains_like_the_in_memory_path(tmp_path: Path) -> None:
    # a budget below the decoded size streams (auto); same seed, same files, same history
    root = image_folder(tmp_path / "images")
    decoded = 48 * 3 * SIZE * SIZE * 4
    assert decoded > MIB
    streamed = fit(config(root, memory_budget_mb=1), 0, tmp_path / "stream")
    held = fit(config(root, loader="memory"), 0, tmp_path / "memory")
    assert streamed.status is held.status is RunStatus.COMPLETED
    assert streamed.extra["loader"]["path"] == "stream"
    assert streamed.extra["loader"]["chosen"] == "auto"
    assert streamed.extra["loader"]["decoded_mb"] < decoded / MIB  # train and val only
    assert held.extra["loader"]["path"] == "memory"
    assert files(tmp_path / "stream") == files(tmp_path / "memory")
    same_history(streamed.history, held.history)
    assert streamed.best_epoch == held.best_epoch
    on_disk = read_json(tmp_path / "stream" / "metrics.json")["extra"]["loader"]
    assert on_disk == {"path": "stream", "chosen": "auto", "decoded_mb": on_disk["decoded_mb"],
                       "budget_mb": 1.0, "workers": 0, "prefetch": 2, "pin_memory": "auto"}
    assert (tmp_path / "stream" / PREDICTIONS_FILE).read_text() == (
        tmp_path / "memory" / PREDICTIONS_FILE).read_text()


def test_streaming_with_a_worker_process_gives_the_same_batches(tmp_path: Path) -> None:
    # a loader worker decodes ahead; the order is the loop's, so nothing changes but speed
    root = image_folder(tmp_path / "images", per_class=8)
    streamed = load_data(DataConfig(dataset="imagefolder", root=str(root), image_size=16,
                                    loader="stream", workers=1, prefetch=3))
    held = load_data(DataConfig(dataset="imagefolder", root=str(root), image_size=16))
    assert isinstance(streamed.train, StreamSplit) and isinstance(held.train, Split)
    assert streamed.normalization == held.normalization
    import torch

    order = torch.randperm(len(held.train), generator=torch.Generator().manual_seed(3))
    chunks = list(order.split(4))
    for (xs, ys), (xm, ym) in zip(streamed.train.batches(chunks), held.train.batches(chunks),
                                  strict=True):
        assert torch.equal(xs, xm) and torch.equal(ys, ym)
    # a second pass (the next epoch) reuses the loader and its worker
    again = torch.cat([y for _, y in streamed.train.batches(chunks[:2])])
    assert torch.equal(again, torch.cat([y for _, y in held.train.batches(chunks[:2])]))
    assert torch.equal(streamed.val.x, held.val.x)


def test_auto_keeps_small_data_in_memory_and_stream_needs_files(tmp_path: Path) -> None:
    # under the budget the faster in-memory path is kept; data already in tensors cannot stream
    root = image_folder(tmp_path / "images", per_class=4)
    small = load_data(DataConfig(dataset="imagefolder", root=str(root), image_size=8))
    assert small.loader is not None and small.loader.path == "memory"
    assert small.loader.budget_mb > 0
    with pytest.raises(DataError, match="data.loader: stream: dataset 'digits' is already"):
        load_data(DataConfig(dataset="digits", loader="stream"))


def test_torchvision_data_streams_to_the_same_samples(tmp_path: Path) -> None:
    # a torchvision dataset streams too: each sample decoded (and resized) as the bulk path does
    import torch

    from tests.trainer.test_data import write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 10)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 255, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    common = {"dataset": "torchvision:MNIST", "root": str(tmp_path), "image_size": 14}
    streamed = load_data(DataConfig(**common, loader="stream"), include_test=True)
    held = load_data(DataConfig(**common, loader="memory"), include_test=True)
    assert isinstance(streamed.train, StreamSplit)
    assert streamed.normalization == held.normalization
    assert torch.equal(streamed.train.x, held.train.x) and torch.equal(streamed.val.x, held.val.x)
    assert streamed.test is not None and held.test is not None
    assert torch.equal(streamed.test.x, held.test.x)  # the test split is always in memory


def test_probes_and_val_evaluation_never_decode_a_streamed_split_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the whole-split tensor (`StreamSplit.x`) costs the decoded size the budget forbids:
    # the range test, the batch probe and evaluate(run, "val") read batches instead, and
    # give the in-memory path's figures
    from workflow.trainer.builtin import evaluate
    from workflow.trainer.config import TrainConfig
    from workflow.trainer.probe import batch_probe, lr_range_test

    def whole(self: StreamSplit) -> None:
        raise AssertionError("a streamed split was decoded whole")

    root = image_folder(tmp_path / "images")
    streamed = TrainConfig.model_validate(config(root, memory_budget_mb=1, augment=[]))
    held = TrainConfig.model_validate(config(root, loader="memory", augment=[]))
    memory_range = lr_range_test(held, steps=12)
    fit(streamed, 0, tmp_path / "stream")
    monkeypatch.setattr(StreamSplit, "x", property(whole))
    stream_range = lr_range_test(streamed, steps=12)
    assert stream_range["steps_run"] == memory_range["steps_run"] > 0
    assert stream_range["losses"] == pytest.approx(memory_range["losses"], rel=1e-5)
    assert stream_range["input_std"] == pytest.approx(memory_range["input_std"], rel=1e-5)
    assert batch_probe(streamed, sizes=(8, 16), steps=1)["rows"]
    scored = evaluate(tmp_path / "stream", "val")
    assert len(scored.predictions) == len(scored.targets) > 0
    accuracy = read_json(tmp_path / "stream" / "metrics.json")["best"]["val_accuracy"]
    assert scored.metrics["val_accuracy"] == pytest.approx(accuracy)
