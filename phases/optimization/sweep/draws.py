"""What a sweep samples, so that a sweep killed and rerun equals one never interrupted.

A sampler restarted with its seed replays the points it drew before the kill:
the resumed sweep would run some points twice and others never. So a point
depends on its *place* in the search (`slot`), not on what a sampler object
drew before:

- a trial's place is the number of trials before it that were asked for a
  new point: retries (they rerun the place of the trial they retry) and skipped
  trials (they never ran) are left out. The interrupted ones are not: a place
  is fixed when the trial is asked for and never moves when a trial before it
  is found interrupted later (by then trials after it may have run);
- random search draws each parameter of the trial at a place from its own
  random state, seeded from (study seed, place, parameter name): any worker, on
  any run, draws for a place what an uninterrupted sweep draws there, and a
  retry that was killed before it suggested every parameter completes its
  point with the same values;
- a Bayesian (TPE) sampler cannot draw ahead (each draw depends on the results
  before it): its random state is reseeded before every trial from (seed,
  place), so a resumed study draws for each place what an uninterrupted one
  would have given the same results: exactly so with one worker; with several,
  the order in which results arrive already varies between two runs;
- a grid's points are all enqueued when the study is created (`study`);
- an interrupted trial is enqueued again with its parameters (`recovery`).

A user's sampler (`module:Class`) is built with the worker's seed and is
reproducible only as far as it makes itself so.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from phases.optimization.sweep.storage import quiet
from phases.optimization.sweep.study import OUTCOME, RETRY_OF

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from phases.optimization.sweep.space import SearchSpace

__all__ = ["draw_points", "slot", "slot_seed", "slot_seeded_random", "slot_seeded_tpe"]


def draw_points(space: SearchSpace, seed: int, count: int) -> list[dict[str, Any]]:
    """The points a random search with `seed` tries at places 0 .. count-1 (Optuna params)."""
    quiet()
    import optuna

    draft = optuna.create_study(sampler=slot_seeded_random()(seed))
    points = []
    for _ in range(count):
        trial = draft.ask()
        space.suggest(trial)
        points.append(dict(trial.params))
        draft.tell(trial, 0.0)
    return points


def slot(trials: Sequence[FrozenTrial], number: int) -> int:
    """Trial `number`'s place in the search (see the module docstring)."""
    by_number = {t.number: t for t in trials}
    seen: set[int] = set()
    while number not in seen:  # a retry of a retry: follow the chain to the first
        seen.add(number)
        trial = by_number.get(number)
        original = trial.user_attrs.get(RETRY_OF) if trial is not None else None
        if original is None or int(original) not in by_number:
            break
        number = int(original)
    return sum(1 for t in trials if t.number < number and RETRY_OF not in t.user_attrs
               and t.user_attrs.get(OUTCOME) != "skipped")


def slot_seed(seed: int, place: int, name: str = "") -> int:
    """The seed of the random state at `place` (and of parameter `name`) of a study's `seed`."""
    digest = hashlib.sha256(f"phasegate-sweep:{seed}:{place}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@functools.cache
def slot_seeded_random() -> type:
    """RandomSampler drawing each parameter from (seed, slot, parameter name)."""
    quiet()
    import optuna

    class SlotSeededRandomSampler(optuna.samplers.RandomSampler):
        def __init__(self, seed: int) -> None:
            super().__init__(seed=seed)
            self._study_seed = seed
            self._places: dict[int, int] = {}

        def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
            self._places[trial.number] = slot(study.get_trials(deepcopy=False), trial.number)
            super().before_trial(study, trial)

        def sample_independent(
            self, study: optuna.Study, trial: FrozenTrial, param_name: str,
            param_distribution: optuna.distributions.BaseDistribution,
        ) -> Any:
            place = self._places.get(trial.number)
            if place is None:
                place = slot(study.get_trials(deepcopy=False), trial.number)
            # Optuna's samplers keep their state in `_rng` (a LazyRandomState); there is no
            # public way to seed one for a given draw
            self._rng.rng.seed(slot_seed(self._study_seed, place, param_name))
            return super().sample_independent(study, trial, param_name, param_distribution)

    return SlotSeededRandomSampler


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
