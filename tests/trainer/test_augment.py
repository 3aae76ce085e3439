"""Batch augmentations: shapes kept, soft targets sum to one, draws repeat with the seed."""

from __future__ import annotations

import pytest
import torch

from workflow.trainer.augment import BatchAugmenter
from workflow.trainer.config import DataConfig


def augmenter(*augs: dict[str, object], seed: int = 0) -> BatchAugmenter:
    return BatchAugmenter(DataConfig.model_validate({"augment": list(augs)}).augment, 10, seed)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(16, 3, 12, 12, generator=generator), torch.arange(16) % 10


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_mixing_gives_soft_targets_that_sum_to_one(name: str) -> None:
    # mixup and cutmix blend two labels in proportion to what they blend of the images
    x, y = batch()
    out, target = augmenter({"name": name, "alpha": 1.0})(x, y)
    assert out.shape == x.shape
    assert torch.allclose(target.sum(1), torch.ones(16))
    assert (target.max(1).values < 1).any()


def test_hflip_with_p_one_mirrors_every_image() -> None:
    # p is the probability of flipping each image
    x, y = batch()
    out, target = augmenter({"name": "hflip", "p": 1.0})(x, y)
    assert torch.equal(out, x.flip(-1))
    assert torch.equal(target.argmax(1), y)


def test_geometric_warps_keep_the_shape_and_repeat_with_the_seed() -> None:
    # crop, rotation and affine compose into one warp; the same seed draws the same warp
    augs = ({"name": "random_crop", "padding": 2}, {"name": "rotation"}, {"name": "affine"})
    x, y = batch()
    a, _ = augmenter(*augs, seed=3)(x, y)
    b, _ = augmenter(*augs, seed=3)(x, y)
    c, _ = augmenter(*augs, seed=4)(x, y)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
