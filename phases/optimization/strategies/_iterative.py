"""Iterative: smaller steps, each re-diagnosed, until A, D or the iteration limit.

A round applies the HIGH recommendations (the top one when there are none) of the
diagnosis of the best arm so far. Unlike targeted, a round that gains nothing
significant (C) does not end Phase 4: the project goes back to `diagnosed` and the
next round tries the next recommendations (see phases/optimization/iterative.py).
"""

from __future__ import annotations

from typing import ClassVar

from phases.optimization.strategies._targeted import TargetedStrategy
from phases.optimization.targeted import Mode

__all__ = ["IterativeStrategy"]


class IterativeStrategy(TargetedStrategy):
    """One small step per attempt; goes on after C."""

    mode: ClassVar[Mode] = "iterative"
    continues_after_revert: ClassVar[bool] = True
