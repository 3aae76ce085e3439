"""Datasets split train / val / test with a recorded seed, held in memory or streamed.

A dataset gives the splits it has (`workflow.trainer.sources`); the ones it does
not give are carved here with `split_seed`: val from train, test from the whole.
A fraction set for a split the dataset gives is an error naming it, never ignored.
Small data is decoded once into tensors; data that would not fit the memory budget
streams through a DataLoader (`workflow.trainer.streaming`). Both paths see the
same samples, in the same order, normalized by the same statistics.

The embedded default, `digits`, is scikit-learn's bundled handwritten digits (1,797
8x8 images, 10 classes): real data that installs from the package registry.

The test split is built but never handed out by `load_data` unless the caller
asks for it: only Phase 5 does, through the test lock. It is always in memory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workflow.errors import DataError
from workflow.trainer.config import IMAGE_ONLY_AUGMENTATIONS, DataConfig
from workflow.trainer.sources import Part, decoded_bytes, load_source
from workflow.trainer.streaming import Batch, LoaderPlan, StreamSplit, plan

STATS_BATCH = 64  # samples per pass of the training statistics, on both paths alike


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def device(self) -> torch.device:
        return self.x.device

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))

    def batches(self, chunks: Iterable[torch.Tensor]) -> Iterator[Batch]:
        """The batches of `chunks` (positions in this split, on its device)."""
        for index in chunks:
            yield self.x[index], self.y[index]

    def in_order(self, size: int) -> Iterator[Batch]:
        for start in range(0, len(self), size):
            yield self.x[start : start + size], self.y[start : start + size]


@dataclass
class DataBundle:
    train: Split | StreamSplit
    val: Split | StreamSplit
    test: Split | None
    class_names: list[str]
    input_shape: tuple[int, ...]
    normalization: dict[str, list[float]]
    split_info: dict[str, Any] = field(default_factory=dict)
    loader: LoaderPlan | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_data(config: DataConfig, *, include_test: bool = False) -> DataBundle:
    """Load, split and normalize the dataset of `config`, on the CPU."""
    source = load_source(config)
    given_val, given_test = source.given("val"), source.given("test")
    _check_fractions(config, given_val, given_test)
    whole = source.parts["train"]
    generator = torch.Generator().manual_seed(config.split_seed)
    order = torch.randperm(len(whole), generator=generator)
    if config.max_samples is not None:
        order = order[: config.max_samples]
    n = len(order)
    n_test = 0 if given_test is not None else max(1, round(n * config.test_share))
    n_val = 0 if given_val is not None else max(1, round(n * config.val_share))
    test_idx, val_idx, train_idx = (
        order[:n_test],
        order[n_test : n_test + n_val],
        order[n_test + n_val :],
    )
    if len(train_idx) < 2:
        raise DataError(f"dataset {config.dataset!r} has too few samples ({n}) to split")
    _check_augmentations(config, source.sample_shape)

    val_part, val_pick = (given_val, None) if given_val is not None else (whole, val_idx)
    n_decoded = len(train_idx) + (len(val_idx) if given_val is None else len(given_val))
    chosen = plan(config, decoded_bytes(n_decoded, source.sample_shape),
                  streamable=source.streamable, machine=_memory_bytes())
    if chosen.path == "stream" and not source.streamable:
        raise DataError(
            f"data.loader: stream: dataset {config.dataset!r} is already in memory as tensors "
            "(streaming decodes files); use loader: memory or auto"
        )
    if chosen.path == "stream":
        train_stream = _stream(whole, train_idx, config)
        mean, std = _statistics(train_stream.raw_batches(STATS_BATCH))
        train: Split | StreamSplit = _stream(whole, train_idx, config, mean, std)
        val: Split | StreamSplit = _stream(val_part, val_pick, config, mean, std)
    else:
        raw_train = _decode(whole, train_idx, config)
        # per-channel statistics of the training split only: val and test stay unseen
        mean, std = _statistics(raw_train.x.split(STATS_BATCH))
        train = _normalize(raw_train, mean, std)
        val = _normalize(_decode(val_part, val_pick, config), mean, std)

    test: Split | None = None
    if include_test:
        test_part, test_pick = (given_test, None) if given_test is not None else (whole, test_idx)
        test = _normalize(_decode(test_part, test_pick, config), mean, std)
    split_info = {
        "split_seed": config.split_seed,
        "sizes": {
            "train": len(train_idx),
            "val": len(val_idx) if given_val is None else len(given_val),
            "test": n_test if given_test is None else len(given_test),
        },
        "test_source": _test_source(given_test, config),
        "sources": _sources(config, whole, given_val, given_test),
        "index_sha256": _hash_indices(train_idx, val_idx, test_idx),
    }
    return DataBundle(
        train=train,
        val=val,
        test=test,
        class_names=source.class_names,
        input_shape=source.sample_shape,
        normalization={"mean": mean.flatten().tolist(), "std": std.flatten().tolist()},
        split_info=split_info,
        loader=chosen,
    )


def _check_fractions(config: DataConfig, given_val: Part | None, given_test: Part | None) -> None:
    """A fraction for a split the dataset gives would be silently ignored: refuse it."""
    for name, value, given in (("val_fraction", config.val_fraction, given_val),
                               ("test_fraction", config.test_fraction, given_test)):
        if value is not None and given is not None:
            split = name.partition("_")[0]
            raise DataError(
                f"data.{name}: {value:g} does not apply: dataset {config.dataset!r} gives its "
                f"own {split} split ({given.origin}, {len(given)} samples); remove {name}"
            )


def _test_source(given_test: Part | None, config: DataConfig) -> str:
    if given_test is None:
        return "held_out"
    return "official" if config.dataset.startswith("torchvision:") else "given"


def _sources(config: DataConfig, whole: Part, given_val: Part | None,
             given_test: Part | None) -> dict[str, str]:
    """Where each split came from, in words (metrics.json and the reports)."""
    seed = f"split seed {config.split_seed}"
    at_most = f", at most {config.max_samples} samples" if config.max_samples else ""
    test = given_test.origin if given_test is not None else (
        f"held out from {whole.origin} ({config.test_share:g}, {seed}{at_most})")
    val = given_val.origin if given_val is not None else (
        f"carved from {whole.origin} ({config.val_share:g}, {seed}{at_most})")
    carved = [s for s, given in (("val", given_val), ("test", given_test)) if given is None]
    train = f"{whole.origin}, less the {' and '.join(carved)} carved from it{at_most}" \
        if carved else whole.origin
    return {"train": train, "val": val, "test": test}


def _decode(part: Part, pick: torch.Tensor | None, config: DataConfig) -> Split:
    """The samples `pick` of `part` (all of them when None), decoded in memory in that order."""
    positions = pick if pick is not None else torch.arange(len(part))
    y = part.y[positions]
    if part.tensor is not None and part.prepare is not None:
        # only the kept samples are converted and resized: `max_samples` of a large dataset
        # never costs the whole dataset's memory
        return Split(part.prepare(part.tensor[positions]).contiguous(), y)
    subset = torch.utils.data.Subset(part.dataset, positions.tolist())
    loader = torch.utils.data.DataLoader(subset, batch_size=STATS_BATCH,
                                         num_workers=config.workers)
    x: torch.Tensor | None = None
    start = 0
    for batch, _ in loader:
        if x is None:  # filled batch by batch: the data is held once, never twice
            x = torch.empty((len(positions), *batch.shape[1:]), dtype=torch.float32)
        x[start : start + len(batch)] = batch
        start += len(batch)
    if x is None:
        raise DataError(f"dataset {config.dataset!r}: {part.origin} has no samples")
    return Split(x, y)


def _stream(part: Part, pick: torch.Tensor | None, config: DataConfig,
            mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> StreamSplit:
    positions = pick if pick is not None else torch.arange(len(part))
    subset = torch.utils.data.Subset(part.dataset, positions.tolist())
    zero = torch.zeros(())
    return StreamSplit(subset, part.y[positions], mean if mean is not None else zero,
                       std if std is not None else zero + 1, config)


def _statistics(batches: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (per-feature for tables) mean and sample std, shaped to broadcast.

    Accumulated batch by batch in float64 (Chan's parallel update), so the streaming
    path, which never holds the split, gets the in-memory path's numbers exactly.
    """
    count, mean, m2 = 0, None, None
    shape: list[int] = []
    for batch in batches:
        x = batch.double()
        dims = [d for d in range(x.dim()) if d != 1] if x.dim() > 2 else [0]
        size = x.numel() // (x.shape[1] if x.dim() > 1 else 1)
        shape = [1 if d in dims else x.shape[d] for d in range(x.dim())]
        b_mean = x.mean(dim=dims, keepdim=True)
        b_m2 = ((x - b_mean) ** 2).sum(dim=dims, keepdim=True)
        if mean is None or m2 is None:
            count, mean, m2 = size, b_mean, b_m2
            continue
        delta, total = b_mean - mean, count + size
        mean = mean + delta * size / total
        m2 = m2 + b_m2 + delta**2 * count * size / total
        count = total
    if mean is None or m2 is None:
        raise DataError("the training split is empty")
    std = (m2 / max(count - 1, 1)).sqrt().clamp_min(1e-6)
    return mean.float().reshape(shape), std.float().reshape(shape)


def _normalize(split: Split, mean: torch.Tensor, std: torch.Tensor) -> Split:
    """`split` normalized in place: its tensor is the decoder's own copy, and a second
    copy would double the in-memory path's peak."""
    return Split(split.x.float().sub_(mean).div_(std), split.y)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """`x` resized to size x size; one that cannot fit in this machine's memory is a DataError
    before the allocation is tried (a failed allocation is one too)."""
    needed = int(x.shape[0]) * int(x.shape[1]) * size * size * 4
    available = _memory_bytes()
    if available is not None and needed > available:
        raise DataError(
            f"data.image_size: {size} px makes {x.shape[0]:,} images take "
            f"{needed / 2**30:.1f} GiB, more than this machine's {available / 2**30:.1f} GiB"
        )
    try:
        return torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False
        )
    except (MemoryError, RuntimeError) as exc:  # torch reports a failed allocation as either
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"data.image_size: {size} px: the resized images do not fit ({first})"
                        ) from None


def _memory_bytes() -> int | None:
    """This machine's physical memory, where the OS says it."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _check_augmentations(config: DataConfig, sample_shape: tuple[int, ...]) -> None:
    if len(sample_shape) == 3:
        return
    for aug in config.augment:
        if aug.name in IMAGE_ONLY_AUGMENTATIONS:
            raise DataError(
                f"data.augment: {aug.name!r} needs images (N, C, H, W) but dataset "
                f"{config.dataset!r} gives shape {(None, *sample_shape)}"
            )


def _hash_indices(*parts: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.numpy().astype(np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()
