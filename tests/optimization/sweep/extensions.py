"""A user's own sampler and pruner, named `module:Class` in the sweep settings.

Workers import them by name (`tests.optimization.sweep.extensions:EveryOtherPruner`),
as they would a user's module.
"""

from __future__ import annotations

from typing import Any

import optuna


class SeededRandomSampler(optuna.samplers.RandomSampler):
    """A user's sampler: Optuna's random sampler under another name (it takes `seed`)."""


class EveryOtherPruner(optuna.pruners.BasePruner):
    """A user's pruner: prunes every odd-numbered trial after its first reported epoch."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number % 2 == 1 and trial.last_step is not None


class NotAPruner:
    """Has `prune`, but does not derive from optuna.pruners.BasePruner."""

    def prune(self, study: Any, trial: Any) -> bool:
        return False


class HalfASampler(optuna.samplers.BaseSampler):
    """Derives from BaseSampler but implements none of its abstract methods."""
