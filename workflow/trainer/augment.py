"""Batch augmentations, applied on the training device to a whole batch at once.

Geometric augmentations (random crop, rotation, affine) compose into one affine
warp per sample and one `grid_sample` per batch. Mixup and cutmix return soft
targets. Every random draw comes from the run's generator, so a seed repeats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from workflow.trainer.config import (
    Affine,
    Augmentation,
    Blur,
    ColorJitter,
    Cutmix,
    HFlip,
    Mixup,
    Noise,
    RandomCrop,
    Rotation,
)


class BatchAugmenter:
    def __init__(self, augmentations: Sequence[Augmentation], num_classes: int, seed: int):
        self.augmentations = list(augmentations)
        self.num_classes = num_classes
        self.generator = torch.Generator().manual_seed(seed)
        self.beta_rng = np.random.default_rng(seed)

    def __bool__(self) -> bool:
        return bool(self.augmentations)

    def _rand(self, *shape: int, device: torch.device) -> torch.Tensor:
        # drawn on the CPU generator so CPU and GPU runs see the same numbers
        return torch.rand(*shape, generator=self.generator).to(device)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment a batch; targets become class probabilities (soft when mixed)."""
        target = F.one_hot(y, self.num_classes).to(x.dtype)
        geometric = [a for a in self.augmentations if isinstance(a, (RandomCrop, Rotation, Affine))]
        if geometric:
            x = self._warp(x, geometric)
        for aug in self.augmentations:
            if isinstance(aug, HFlip):
                flip = self._rand(x.shape[0], device=x.device) < aug.p
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            elif isinstance(aug, ColorJitter):
                x = self._jitter(x, aug)
            elif isinstance(aug, Blur):
                x = self._blur(x, aug)
            elif isinstance(aug, Noise):
                x = x + aug.std * torch.randn(x.shape, generator=self.generator).to(x.device)
            elif isinstance(aug, Mixup):
                x, target = self._mixup(x, target, aug.alpha)
            elif isinstance(aug, Cutmix):
                x, target = self._cutmix(x, target, aug.alpha)
        return x, target

    def _warp(
        self, x: torch.Tensor, augs: Sequence[RandomCrop | Rotation | Affine]
    ) -> torch.Tensor:
        b, _, h, w = x.shape
        angle = torch.zeros(b)
        scale = torch.ones(b)
        shift = torch.zeros(b, 2)  # in normalized coordinates, [-1, 1] spans the image
        for aug in augs:
            u = torch.rand(b, 3, generator=self.generator) * 2 - 1
            if isinstance(aug, RandomCrop):
                pixels = torch.round(u[:, :2] * aug.padding)
                shift += pixels * torch.tensor([2.0 / w, 2.0 / h])
            elif isinstance(aug, Rotation):
                angle += u[:, 0] * math.radians(aug.degrees)
            else:
                angle += u[:, 0] * math.radians(aug.degrees)
                shift += u[:, 1:] * 2 * aug.translate
                low, high = aug.scale
                scale *= low + (u[:, 2] + 1) / 2 * (high - low)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
        ).to(x.device, x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)

    def _jitter(self, x: torch.Tensor, aug: ColorJitter) -> torch.Tensor:
        b = x.shape[0]
        u = self._rand(b, 2, device=x.device) * 2 - 1
        brightness = (1 + u[:, 0] * aug.brightness).view(b, 1, 1, 1)
        contrast = (1 + u[:, 1] * aug.contrast).view(b, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * contrast + mean) * brightness

    def _blur(self, x: torch.Tensor, aug: Blur) -> torch.Tensor:
        radius = max(1, math.ceil(2 * aug.sigma))
        offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        kernel = torch.exp(-(offsets**2) / (2 * aug.sigma**2))
        kernel = kernel / kernel.sum()
        c = x.shape[1]
        blurred = F.conv2d(
            F.pad(x, (radius, radius, 0, 0), mode="replicate"),
            kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
            groups=c,
        )
        blurred = F.conv2d(
            F.pad(blurred, (0, 0, radius, radius), mode="replicate"),
            kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
            groups=c,
        )
        chosen = self._rand(x.shape[0], device=x.device) < aug.p
        return torch.where(chosen[:, None, None, None], blurred, x)

    def _partner(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator).to(device)

    def _beta(self, alpha: float) -> float:
        return float(self.beta_rng.beta(alpha, alpha))

    def _mixup(
        self, x: torch.Tensor, target: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lam = self._beta(alpha)
        partner = self._partner(x.shape[0], x.device)
        return lam * x + (1 - lam) * x[partner], lam * target + (1 - lam) * target[partner]

    def _cutmix(
        self, x: torch.Tensor, target: torch.Tensor, alpha: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4:
            return self._mixup(x, target, alpha)
        lam = self._beta(alpha)
        h, w = x.shape[-2:]
        cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = (torch.rand(2, generator=self.generator) * torch.tensor([h, w])).long().tolist()
        top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        partner = self._partner(x.shape[0], x.device)
        x = x.clone()
        x[:, :, top:bottom, left:right] = x[partner, :, top:bottom, left:right]
        kept = 1 - (bottom - top) * (right - left) / (h * w)
        return x, kept * target + (1 - kept) * target[partner]
