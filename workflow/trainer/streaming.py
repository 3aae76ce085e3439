"""The streaming path: a DataLoader decodes samples lazily, batch by batch, each epoch.

Chosen for data that would not fit the memory budget (`data.loader: auto`), or by
hand (`data.loader: stream`). The batches are the in-memory path's batches: the
loop draws the same shuffled order from the same generator and hands it to the
loader, the samples are decoded by the same transform and normalized by the same
statistics, and augmentations run afterwards on the batch, on both paths alike.
So a seed's history is the same on both paths (up to floating point), and only
the memory and the speed differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch

from workflow.trainer.config import DataConfig

MIB = 2**20
# without a budget in the config, decoded data up to this share of the machine's memory
# is held in memory: room is left for the model, its optimizer, a second seed's worker
DEFAULT_BUDGET_SHARE = 0.25
FALLBACK_BUDGET = 4 * 2**30  # where the OS does not say how much memory there is
STREAM_EVAL_BATCH = 256  # samples a batch when evaluating a streamed split
Batch = tuple[torch.Tensor, torch.Tensor]  # inputs and labels, on the split's device


@dataclass(frozen=True)
class LoaderPlan:
    """Which path the data takes, and why: recorded in metrics.json (`extra.loader`)."""

    path: str  # memory | stream
    chosen: str  # auto | by hand
    decoded_mb: float  # the train and val splits decoded as float32
    budget_mb: float
    workers: int
    prefetch: int
    pin_memory: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def budget_bytes(config: DataConfig, machine: int | None) -> int:
    """The configured budget, or a share of the `machine`'s memory (bytes, None: unknown)."""
    if config.memory_budget_mb is not None:
        return config.memory_budget_mb * MIB
    return int(machine * DEFAULT_BUDGET_SHARE) if machine else FALLBACK_BUDGET


def plan(config: DataConfig, decoded: int, *, streamable: bool,
         machine: int | None) -> LoaderPlan:
    """The memory path unless the data would not fit the budget (or `loader` says)."""
    budget = budget_bytes(config, machine)
    if config.loader == "auto":
        path, chosen = ("stream" if streamable and decoded > budget else "memory"), "auto"
    else:
        path, chosen = config.loader, "by hand"
    return LoaderPlan(path, chosen, round(decoded / MIB, 3), round(budget / MIB, 3),
                      config.workers, config.prefetch, config.pin_memory)


class _Batches:
    """A batch sampler whose batches the loop sets before each pass (its shuffled order)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class StreamSplit:
    """A split decoded batch by batch by a DataLoader; what the loop asks of `Split`.

    Labels are known without decoding (`y`), so validation metrics and predictions
    need no second pass.
    """

    def __init__(self, dataset: torch.utils.data.Dataset[Any], y: torch.Tensor,
                 mean: torch.Tensor, std: torch.Tensor, config: DataConfig,
                 device: torch.device | None = None):
        self.dataset, self.config = dataset, config
        self._device = device or torch.device("cpu")
        self.y = y.to(self._device)
        self.mean, self.std = mean.to(self._device), std.to(self._device)
        self._sampler = _Batches()
        self._loader: torch.utils.data.DataLoader[Any] | None = None
        self._whole: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: torch.device) -> StreamSplit:
        return StreamSplit(self.dataset, self.y, self.mean, self.std, self.config, device)

    @property
    def x(self) -> torch.Tensor:
        """Every sample of the split at once, decoded and normalized, kept after the first ask.

        It costs the split's decoded size in memory, which streaming exists to avoid:
        nothing in phasegate asks for it (the loop, the probes and evaluation read
        `batches`); it is here for comparing the two paths sample for sample.
        """
        if self._whole is None:
            self._whole = torch.cat([x for x, _ in self.in_order(STREAM_EVAL_BATCH)])
        return self._whole

    @property
    def pinned(self) -> bool:
        setting = self.config.pin_memory
        return setting == "on" or (setting == "auto" and self._device.type == "cuda")

    def batches(self, chunks: Iterable[torch.Tensor]) -> Iterator[Batch]:
        """The batches of `chunks` (positions in this split), decoded and normalized."""
        self._sampler.batches = [chunk.tolist() for chunk in chunks]
        for x, y in self._loader_once():
            yield self._ready(x), y.to(self._device, non_blocking=self.pinned)

    def in_order(self, size: int) -> Iterator[Batch]:
        """The whole split in order, `size` samples a batch (evaluation), at most
        STREAM_EVAL_BATCH: every worker prefetches batches, and a large one times each
        worker's prefetch is what streaming exists to avoid holding."""
        return self.batches(torch.arange(len(self)).split(min(size, STREAM_EVAL_BATCH)))

    def raw_batches(self, size: int) -> Iterator[torch.Tensor]:
        """The decoded samples in order, before normalization (its statistics need them)."""
        self._sampler.batches = [c.tolist() for c in torch.arange(len(self)).split(size)]
        for x, _ in self._loader_once():
            yield x

    def _loader_once(self) -> torch.utils.data.DataLoader[Any]:
        # one loader for the whole run: its workers live across epochs
        if self._loader is None:
            workers = self.config.workers
            self._loader = torch.utils.data.DataLoader(
                self.dataset, batch_sampler=self._sampler, num_workers=workers,
                pin_memory=self.pinned,
                prefetch_factor=self.config.prefetch if workers > 0 else None,
                persistent_workers=workers > 0,
            )
        return self._loader

    def _ready(self, x: torch.Tensor) -> torch.Tensor:
        # pinned pages copy to the GPU while the previous step still runs
        x = x.to(self._device, non_blocking=self.pinned).float()
        return x.sub_(self.mean).div_(self.std)  # the loader's batch is ours: no second copy
