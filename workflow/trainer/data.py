"""Datasets, held in memory as tensors and split train / val / test with a recorded seed.

Nothing here downloads unless the config says `download: true`. The embedded
default, `digits`, is scikit-learn's bundled handwritten digits (1,797 8x8
images, 10 classes): real data that installs from the package registry.

The test split is built but never handed out by `load_data` unless the caller
asks for it: only Phase 5 does, through the test lock.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workflow.errors import DataError
from workflow.plugins import load_callable
from workflow.trainer.config import IMAGE_ONLY_AUGMENTATIONS, DataConfig


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class DataBundle:
    train: Split
    val: Split
    test: Split | None
    class_names: list[str]
    input_shape: tuple[int, ...]
    normalization: dict[str, list[float]]
    split_info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_data(config: DataConfig, *, include_test: bool = False) -> DataBundle:
    """Load, split and normalize the dataset of `config`, on the CPU."""
    x, y, class_names, official_test = _load_source(config)
    y = y.long()
    generator = torch.Generator().manual_seed(config.split_seed)
    order = torch.randperm(len(y), generator=generator)
    if config.max_samples is not None:
        order = order[: config.max_samples]
    n = len(order)
    n_test = 0 if official_test is not None else max(1, round(n * config.test_fraction))
    n_val = max(1, round(n * config.val_fraction))
    test_idx, val_idx, train_idx = (
        order[:n_test],
        order[n_test : n_test + n_val],
        order[n_test + n_val :],
    )
    if len(train_idx) < 2:
        raise DataError(f"dataset {config.dataset!r} has too few samples ({n}) to split")

    # only the kept samples, in split order (test, val, train), are converted and resized:
    # `max_samples` of a large dataset never costs the whole dataset's memory
    x, y = x[order].float(), y[order]
    if config.image_size is not None and x.dim() == 4 and x.shape[-1] != config.image_size:
        x = _resize(x, config.image_size)
        if official_test is not None:
            official_test = Split(_resize(official_test.x.float(), config.image_size),
                                  official_test.y)
    _check_augmentations(config, x)
    test_pos, val_pos = slice(0, n_test), slice(n_test, n_test + n_val)
    train_pos = slice(n_test + n_val, None)

    train = Split(x[train_pos], y[train_pos])
    # per-channel statistics of the training split only: val and test stay unseen
    dims = [d for d in range(train.x.dim()) if d != 1] if train.x.dim() > 2 else [0]
    mean = train.x.mean(dim=dims, keepdim=True)
    std = train.x.std(dim=dims, keepdim=True).clamp_min(1e-6)

    def normalize(split: Split) -> Split:
        return Split((split.x.float() - mean) / std, split.y)

    test: Split | None = None
    if include_test:
        test = official_test if official_test is not None else Split(x[test_pos], y[test_pos])
        test = normalize(test)
    split_info = {
        "split_seed": config.split_seed,
        "sizes": {
            "train": len(train_idx),
            "val": len(val_idx),
            "test": len(official_test) if official_test is not None else n_test,
        },
        "test_source": "official" if official_test is not None else "held_out",
        "index_sha256": _hash_indices(train_idx, val_idx, test_idx),
    }
    return DataBundle(
        train=normalize(train),
        val=normalize(Split(x[val_pos], y[val_pos])),
        test=test,
        class_names=class_names,
        input_shape=tuple(x.shape[1:]),
        normalization={"mean": mean.flatten().tolist(), "std": std.flatten().tolist()},
        split_info=split_info,
    )


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
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _load_source(config: DataConfig) -> tuple[torch.Tensor, torch.Tensor, list[str], Split | None]:
    name = config.dataset
    if name == "digits":
        return (*_digits(), None)
    if name == "imagefolder":
        return (*_image_folder(config), None)
    if name.startswith("torchvision:"):
        return _torchvision(config, name.partition(":")[2])
    return (*_user_dataset(config), None)


def _digits() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    return images, torch.from_numpy(bunch.target), [str(c) for c in bunch.target_names]


def _image_folder(config: DataConfig) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    from torchvision import datasets, transforms

    assert config.root is not None
    size = config.image_size or 32
    try:
        folder = datasets.ImageFolder(
            config.root,
            transform=transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()]),
        )
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"data.root {config.root!r}: {exc}") from None
    loader = torch.utils.data.DataLoader(folder, batch_size=256, num_workers=config.workers)
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys), list(folder.classes)


def _torchvision(
    config: DataConfig, name: str
) -> tuple[torch.Tensor, torch.Tensor, list[str], Split | None]:
    from torchvision import datasets

    factory = getattr(datasets, name, None)
    if factory is None or not isinstance(factory, type):
        raise DataError(f"data.dataset: torchvision has no dataset {name!r}")
    try:
        train = factory(config.root, train=True, download=config.download)
        test = factory(config.root, train=False, download=config.download)
    except TypeError:
        raise DataError(
            f"data.dataset: torchvision:{name} has no train/test split; use imagefolder"
        ) from None
    except RuntimeError as exc:
        hint = "" if config.download else " (phasegate never downloads unless data.download: true)"
        raise DataError(f"data.root {config.root!r}: {exc}{hint}") from None
    x, y = _as_tensors(train)
    tx, ty = _as_tensors(test)
    classes = [str(c) for c in getattr(train, "classes", sorted(set(y.tolist())))]
    return x, y, classes, Split(tx, ty)


def _as_tensors(dataset: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """A torchvision dataset as (N, C, H, W) floats in [0, 1] and labels."""
    data, targets = getattr(dataset, "data", None), getattr(dataset, "targets", None)
    if data is not None and targets is not None:
        x = torch.as_tensor(np.asarray(data))
        if x.dim() == 3:  # (N, H, W) grayscale
            x = x.unsqueeze(1)
        elif x.dim() == 4 and x.shape[-1] in (1, 3):  # (N, H, W, C)
            x = x.permute(0, 3, 1, 2)
        scale = 255.0 if x.dtype == torch.uint8 else 1.0
        return x.float() / scale, torch.as_tensor(np.asarray(targets)).long()
    from torchvision.transforms.functional import pil_to_tensor

    pairs = [(pil_to_tensor(img).float() / 255.0, int(label)) for img, label in dataset]
    return torch.stack([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])


def _user_dataset(config: DataConfig) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A user's `module:function(root)` returning (x, y) or (x, y, class_names)."""
    func = load_callable(config.dataset, role="dataset", required=("root",))
    try:
        out = func(config.root)
    except Exception as exc:
        raise DataError(
            f"dataset {config.dataset!r} raised {exc.__class__.__name__}: {exc}"
        ) from exc
    if not isinstance(out, tuple) or len(out) not in (2, 3):
        raise DataError(
            f"dataset {config.dataset!r} must return (x, y) or (x, y, class_names), "
            f"got {type(out).__name__}"
        )
    x, y = torch.as_tensor(np.asarray(out[0])), torch.as_tensor(np.asarray(out[1])).long()
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"dataset {config.dataset!r}: x has {x.shape[0]} rows but y has {y.shape[0]}"
        )
    n_classes = int(y.max()) + 1
    names = [str(c) for c in out[2]] if len(out) == 3 else [str(i) for i in range(n_classes)]
    return x, y, names


def _check_augmentations(config: DataConfig, x: torch.Tensor) -> None:
    if x.dim() == 4:
        return
    for aug in config.augment:
        if aug.name in IMAGE_ONLY_AUGMENTATIONS:
            raise DataError(
                f"data.augment: {aug.name!r} needs images (N, C, H, W) but dataset "
                f"{config.dataset!r} gives shape {tuple(x.shape)}"
            )


def _hash_indices(*parts: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.numpy().astype(np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()

