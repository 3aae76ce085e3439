"""Where samples come from: each dataset kind read into the splits it gives, undecoded.

A `Source` holds the splits a dataset gives by itself (always `train`; `val` and
`test` where the dataset has them: a function's named splits, an image folder's
`train/ val/ test/` subfolders, torchvision's official test split), each with the
words saying where it came from. Nothing is decoded here: a `Part` can be decoded
sample by sample (the streaming path) or all at once (the in-memory path), by the
same per-sample transform, so both paths see the same numbers.

Nothing here downloads unless the config says `download: true`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workflow.errors import DataError
from workflow.plugins import load_callable
from workflow.trainer.config import FOLDER_SPLITS, DataConfig, folder_splits

SPLITS = FOLDER_SPLITS
DEFAULT_IMAGE_SIZE = 32


@dataclass(frozen=True)
class Part:
    """One split as its dataset gives it: labels known up front, samples decoded on demand.

    `dataset[i]` is sample i decoded to its final float tensor (at the configured size);
    `tensor` (when not None) is every sample already in memory, made final in bulk by
    `prepare`, which is the same transform as `dataset`'s.
    """

    dataset: torch.utils.data.Dataset[tuple[torch.Tensor, Any]]
    y: torch.Tensor
    origin: str
    tensor: torch.Tensor | None = None
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Source:
    parts: dict[str, Part]
    class_names: list[str]
    sample_shape: tuple[int, ...]  # of one decoded sample: (C, H, W) or (features,)
    streamable: bool  # decoded lazily from files or raw bytes: streaming saves memory

    def given(self, split: str) -> Part | None:
        return self.parts.get(split)


def load_source(config: DataConfig) -> Source:
    name = config.dataset
    if name == "digits":
        return _digits(config)
    if name == "imagefolder":
        return _image_folder(config)
    if name.startswith("torchvision:"):
        return _torchvision(config, name.partition(":")[2])
    return _user_dataset(config)


# ---- tensors in memory: the bundled digits and a user's function ------------------------


class _Tensors(torch.utils.data.Dataset[tuple[torch.Tensor, Any]]):
    """Samples already in memory, each made final by `prepare` when it is read."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor,
                 prepare: Callable[[torch.Tensor], torch.Tensor]):
        self.x, self.y, self.prepare = x, y, prepare

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        return self.prepare(self.x[index : index + 1])[0], self.y[index]


def _tensor_part(x: torch.Tensor, y: torch.Tensor, origin: str, config: DataConfig) -> Part:
    size = config.image_size

    def prepare(batch: torch.Tensor) -> torch.Tensor:
        batch = batch.float()
        if size is not None and batch.dim() == 4 and batch.shape[-1] != size:
            batch = _resize(batch, size)
        return batch

    return Part(_Tensors(x, y, prepare), y, origin, tensor=x, prepare=prepare)


def _sample_shape(x: torch.Tensor, config: DataConfig) -> tuple[int, ...]:
    shape = tuple(int(d) for d in x.shape[1:])
    if config.image_size is not None and len(shape) == 3:
        return (shape[0], config.image_size, config.image_size)
    return shape


def _digits(config: DataConfig) -> Source:
    pixels, target = digits_arrays()
    images = torch.from_numpy(pixels.reshape(-1, 1, 8, 8).astype(np.float32) / 16.0)
    y = torch.from_numpy(target).long()
    part = _tensor_part(images, y, "scikit-learn's digits", config)
    return Source({"train": part}, [str(c) for c in range(10)],
                  _sample_shape(images, config), streamable=False)


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits as (pixels 0..16, one row of 64 per image; labels).

    Read from the CSV file scikit-learn ships, as its `load_digits` reads it, without
    importing scikit-learn: importing it costs every training process about 1.5 s.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            return data[:, :-1], data[:, -1].astype(int)
    from sklearn.datasets import load_digits  # another layout: scikit-learn's own reader

    bunch = load_digits()
    return bunch.data, bunch.target


def _user_dataset(config: DataConfig) -> Source:
    """A user's `module:function(root)`: (x, y[, class_names]) or named splits.

    Named splits are a mapping: `train` (required), `val` and `test` (optional), each
    (x, y); and `class_names` (optional).
    """
    func = load_callable(config.dataset, role="dataset", required=("root",))
    try:
        out = func(config.root)
    except Exception as exc:
        raise DataError(
            f"dataset {config.dataset!r} raised {exc.__class__.__name__}: {exc}"
        ) from exc
    names: Any = None
    if isinstance(out, Mapping):
        unknown = sorted(str(k) for k in out if k not in (*SPLITS, "class_names"))
        if unknown or "train" not in out:
            raise DataError(
                f"dataset {config.dataset!r} returned splits {sorted(map(str, out))}: a "
                "mapping needs 'train' and may have 'val', 'test' and 'class_names'"
                + (f" (not {', '.join(unknown)})" if unknown else "")
            )
        pairs = {k: _pair(config, out[k], k) for k in SPLITS if k in out}
        names = out.get("class_names")
    elif isinstance(out, tuple) and len(out) in (2, 3):
        pairs = {"train": _pair(config, out[:2], "x, y")}
        names = out[2] if len(out) == 3 else None
    else:
        raise DataError(
            f"dataset {config.dataset!r} must return (x, y), (x, y, class_names) or a mapping "
            f"of splits ({{'train': (x, y), 'val': ..., 'test': ...}}), got {type(out).__name__}"
        )
    shapes = {k: tuple(x.shape[1:]) for k, (x, _) in pairs.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"dataset {config.dataset!r}: the splits' samples differ in shape "
                        f"({', '.join(f'{k} {v}' for k, v in shapes.items())})")
    n_classes = max(int(y.max()) + 1 for _, y in pairs.values() if len(y))
    class_names = [str(c) for c in names] if names is not None else [
        str(i) for i in range(n_classes)]
    if len(class_names) < n_classes:
        raise DataError(f"dataset {config.dataset!r}: labels go up to {n_classes - 1} but "
                        f"only {len(class_names)} class names are given")
    whole = isinstance(out, tuple)
    parts = {k: _tensor_part(x, y, f"the data returned by {config.dataset}" if whole
                             else f"the {k} split given by {config.dataset}", config)
             for k, (x, y) in pairs.items()}
    x0 = pairs["train"][0]
    return Source(parts, class_names, _sample_shape(x0, config), streamable=False)


def _pair(config: DataConfig, value: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise DataError(f"dataset {config.dataset!r}: {what} must be (x, y), "
                        f"got {type(value).__name__}")
    x, y = torch.as_tensor(np.asarray(value[0])), torch.as_tensor(np.asarray(value[1])).long()
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"dataset {config.dataset!r}: {what}: x has {x.shape[0]} rows but y has {y.shape[0]}"
        )
    if len(y) and int(y.min()) < 0:
        raise DataError(f"dataset {config.dataset!r}: {what}: labels must be 0 or more, "
                        f"but got {int(y.min())}")
    return x, y


# ---- image files: a folder of class folders, or of train/ val/ test/ -----------------------


def _image_folder(config: DataConfig) -> Source:
    from torchvision import datasets, transforms

    assert config.root is not None
    size = config.image_size or DEFAULT_IMAGE_SIZE
    transform = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    if not os.path.isdir(config.root):
        raise DataError(f"data.root {config.root!r}: not a folder")
    split_folders = folder_splits(config.root)
    by_split = split_folders is not None
    folders = {k: os.path.join(config.root, k) for k in split_folders or ()} if by_split \
        else {"train": config.root}
    try:
        first = datasets.ImageFolder(folders["train"], transform=transform)
        classes, index = list(first.classes), dict(first.class_to_idx)
        parts = {"train": first}
        for split, folder in folders.items():
            if split != "train":
                parts[split] = _folder_with_classes(folder, classes, index, transform)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"data.root {config.root!r}: {exc}") from None
    made = {
        k: Part(ds, torch.as_tensor(ds.targets, dtype=torch.long),
                f"the {k}/ folder of {config.root}" if by_split else f"the folder {config.root}")
        for k, ds in parts.items()
    }
    # ImageFolder reads every image as RGB
    return Source(made, classes, (3, size, size), streamable=True)


def _folder_with_classes(folder: str, classes: list[str], index: dict[str, int],
                         transform: Any) -> Any:
    """An ImageFolder of a val/ or test/ folder, labelled by the train/ folder's classes."""
    from torchvision import datasets

    present = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    unknown = [c for c in present if c not in index]
    if unknown:
        raise DataError(f"{folder}: class folder {unknown[0]!r} is not in train/ "
                        f"(its classes: {', '.join(classes)})")

    class _Labelled(datasets.ImageFolder):
        def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
            return present, {c: index[c] for c in present}

    dataset = _Labelled(folder, transform=transform)
    dataset.classes, dataset.class_to_idx = classes, index
    return dataset


# ---- torchvision: its own train and official test splits -----------------------------------


class _TorchvisionItems(torch.utils.data.Dataset[tuple[torch.Tensor, Any]]):
    """A torchvision dataset's samples decoded one at a time, as the bulk path decodes them."""

    def __init__(self, dataset: Any, prepare: Callable[[torch.Tensor], torch.Tensor]):
        self.dataset, self.prepare = dataset, prepare

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        data = getattr(self.dataset, "data", None)
        if data is not None:
            raw = torch.as_tensor(np.asarray(data[index : index + 1]))
            target = self.dataset.targets[index]
        else:
            from torchvision.transforms.functional import pil_to_tensor

            image, target = self.dataset[index]
            raw = pil_to_tensor(image).unsqueeze(0)
        return self.prepare(raw)[0], int(target)


def _torchvision(config: DataConfig, name: str) -> Source:
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
    size = config.image_size

    def prepare(raw: torch.Tensor) -> torch.Tensor:
        """(N, H, W), (N, H, W, C) or (N, C, H, W) bytes as (N, C, H, W) floats in [0, 1]."""
        if raw.dim() == 3:
            raw = raw.unsqueeze(1)
        elif raw.dim() == 4 and raw.shape[-1] in (1, 3):  # (N, H, W, C)
            raw = raw.permute(0, 3, 1, 2)
        scale = 255.0 if raw.dtype == torch.uint8 else 1.0
        x = raw.float() / scale
        return _resize(x, size) if size is not None and x.shape[-1] != size else x

    parts = {}
    for split, ds, origin in (("train", train, f"torchvision's {name} train split"),
                              ("test", test, f"torchvision's official {name} test split")):
        items = _TorchvisionItems(ds, prepare)
        targets = getattr(ds, "targets", None)
        y = torch.as_tensor(np.asarray(targets)).long() if targets is not None else \
            torch.tensor([int(items.dataset[i][1]) for i in range(len(ds))])
        data = getattr(ds, "data", None)
        tensor = torch.as_tensor(np.asarray(data)) if data is not None and targets is not None \
            else None
        parts[split] = Part(items, y, origin, tensor=tensor, prepare=prepare)
    shape = tuple(parts["train"].dataset[0][0].shape)
    classes = [str(c) for c in getattr(train, "classes", sorted(set(parts["train"].y.tolist())))]
    return Source(parts, classes, shape, streamable=True)


# ---- sizes -------------------------------------------------------------------------------


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    from workflow.trainer.data import _resize as checked_resize  # data imports this module

    return checked_resize(x, size)


def decoded_bytes(n: int, shape: tuple[int, ...]) -> int:
    """What `n` samples of `shape` take decoded, as float32."""
    return n * math.prod(shape) * 4
