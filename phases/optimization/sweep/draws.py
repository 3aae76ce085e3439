"""What a sweep samples, so that a sweep killed and rerun equals one never interrupted.

A sampler restarted with its seed replays the points it drew before the kill:
the resumed sweep would run some points twice and others never. So what a
sweep samples comes back from the storage:

- a grid's points and a random search's draws (one per place of the trial
  budget, `draw_points` from the study's seed) are enqueued in the study when
  it is created (`study.create_study`), and workers take them in order; a
  budget raised on a rerun enqueues the places it adds;
- an interrupted trial is enqueued again with its parameters (`recovery`), and
  its retry takes its place;
- a Bayesian sampler cannot draw ahead (each draw depends on the results before
  it): its random state is reseeded before every trial from the study's seed
  and the trial's place (`slot`: the trials before it that count), so a resumed
  study draws for each place what an uninterrupted one would have, given the
  same results: exactly so with one worker; with several, the order in which
  results arrive already varies between two uninterrupted runs.

A user's sampler (`module:Class`) is built with the worker's seed and is
reproducible only as far as it makes itself so.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep.storage import quiet
from phases.optimization.sweep.study import OUTCOME

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from phases.optimization.sweep.space import SearchSpace

__all__ = ["draw_points", "slot", "slot_seed", "slot_seeded_tpe"]


def draw_points(space: SearchSpace, seed: int, count: int) -> list[dict[str, Any]]:
    """The first `count` points a random search with `seed` tries (as Optuna params)."""
    quiet()
    import optuna

    draft = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    points = []
    for _ in range(count):
        trial = draft.ask()
        space.suggest(trial)
        points.append(dict(trial.params))
        draft.tell(trial, 0.0)
    return points


def slot(trials: Sequence[FrozenTrial], number: int) -> int:
    """Trial `number`'s place in the search: how many trials before it count, leaving out the
    interrupted ones (their retry takes their place) and the skipped ones (they never ran)."""
    return sum(1 for t in trials if t.number < number
               and t.user_attrs.get(OUTCOME) not in ("interrupted", "skipped"))


def slot_seed(seed: int, place: int) -> int:
    """The random state's seed of the trial at `place` of a study seeded with `seed`."""
    digest = hashlib.sha256(f"phasegate-sweep:{seed}:{place}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@functools.cache
def slot_seeded_tpe() -> type:
    """TPESampler, its random states reseeded before each trial from (seed, slot)."""
    quiet()
    import optuna

    class SlotSeededTPESampler(optuna.samplers.TPESampler):
        def __init__(self, seed: int, **kwargs: Any) -> None:
            super().__init__(seed=seed, **kwargs)
            self._study_seed = seed

        def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
            place = slot(study.get_trials(deepcopy=False), trial.number)
            state = slot_seed(self._study_seed, place)
            # Optuna's samplers keep their state in `_rng` (a LazyRandomState); there is no
            # public way to seed one for a given trial
            self._rng.rng.seed(state)
            self._random_sampler._rng.rng.seed(state)
            super().before_trial(study, trial)

    return SlotSeededTPESampler
