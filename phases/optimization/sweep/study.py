"""The Optuna study behind a sweep: its settings, sampler, pruner and budget.

A study holds everything a worker needs in its user attributes (`SweepSpec`:
the base config as YAML, the space, the seeds, the monitor, the trainer, the
trial folder root, the budget), so `phasegate sweep worker` joins it from any
host with only the storage URL (see `storage`) and the study's name.

Trial outcomes and bookkeeping live in the trial's user attributes (the names
below): what happened, why, how many epochs it ran, which worker ran it.

A sweep killed and rerun reaches the result an uninterrupted one gives: what it
samples comes back from the storage, not from a sampler restarted with its seed
(see `draws`).

A user's own sampler or pruner is named `module:Class` in place of a built-in
method or pruner name. It must derive from Optuna's `BaseSampler` or
`BasePruner`; it is checked when the study is created (`check_extensions`), so a
class that does not fit fails there, in one line, before any trial runs. A
sampler class whose constructor takes `seed` gets the worker's seed, as the
built-in ones do; a pruner class is built without arguments.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from phases.optimization.sweep.storage import quiet
from workflow.errors import ConfigError, ExtensionError
from workflow.io import validate
from workflow.metric import Direction, Metric
from workflow.plugins import load_class
from workflow.safe_yaml import parse_yaml

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from phases.optimization.sweep.space import SearchSpace
    from workflow.own_config import RunConfig

__all__ = [
    "METHODS",
    "PRUNERS",
    "SweepSettings",
    "SweepSpec",
    "Budget",
    "DEFAULT_TRIALS",
    "create_study",
    "load_study",
    "read_spec",
    "read_deadline",
    "set_deadline",
    "make_sampler",
    "make_pruner",
    "pruning_off",
    "check_extensions",
    "counted",
    "epochs_spent",
    "budget_spent",
    "over_budget",
]

METHODS = ("grid", "random", "bayesian")  # or a user's sampler, `module:Class`
PRUNERS = ("none", "median", "asha", "hyperband")  # or a user's pruner, `module:Class`
_CLASS_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _builtin_or_class(value: str, builtin: Sequence[str], what: str) -> str:
    if value in builtin or _CLASS_SPEC.match(value):
        return value
    raise ValueError(
        f"expected one of {', '.join(builtin)} or a {what} class as 'module:Class', "
        f"but got {value!r}"
    )

SPEC_ATTR = "phasegate.spec"
DEADLINE_ATTR = "phasegate.deadline"
DEFAULT_TRIALS = 20

# user attributes of a trial
WORKER = "worker"
HEARTBEAT = "heartbeat"
REASON = "reason"
OUTCOME = "outcome"
EPOCHS = "epochs_run"
RETRY_OF = "retry_of"
ATTEMPT = "attempt"
CHANGES = "changes"


class SweepSettings(BaseModel):
    """How to search: what a user chooses on the command line or in the project."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field("bayesian", description="grid, random, bayesian or module:Class")
    pruner: str = Field("median", description="none, median, asha, hyperband or module:Class")
    trials: int | None = Field(
        None, ge=1, description=f"trial budget (default: the grid's size, or {DEFAULT_TRIALS})"
    )
    wall_time_s: float | None = Field(None, gt=0, description="no new trial starts after this")
    max_epochs: int | None = Field(None, ge=1, description="total epochs over all trials")
    workers: int = Field(1, ge=1, description="local worker processes")
    seed: int = Field(0, description="seeds the sampler (and the trials, unless train_seed)")
    train_seed: int | None = Field(None, description="the seed every trial trains with")
    monitor: str | None = Field(None, description="default: the config's training.monitor")
    direction: Direction | None = Field(
        None, description="default: minimize a loss, maximize anything else (workflow.metric)"
    )
    storage: str | None = Field(
        None, description="an SQLAlchemy URL or a journal file; default: sweep/study.journal"
    )
    study_name: str = Field("sweep", min_length=1)
    top_k: int = Field(3, ge=1, description="the best trials re-run on fresh seeds")
    startup_trials: int | None = Field(
        None, ge=1, description="bayesian: random trials before TPE models the results"
    )

    @field_validator("method")
    @classmethod
    def _method(cls, method: str) -> str:
        return _builtin_or_class(method, METHODS, "sampler")

    @field_validator("pruner")
    @classmethod
    def _pruner(cls, pruner: str) -> str:
        return _builtin_or_class(pruner, PRUNERS, "pruner")


class SweepSpec(BaseModel):
    """What a worker needs to run a study's trials; stored in the study's user attributes."""

    model_config = ConfigDict(extra="forbid")

    base_config: str  # YAML
    space: dict[str, dict[str, Any]]
    method: str
    pruner: str
    seed: int
    train_seed: int
    monitor: str
    direction: Direction
    trainer: str
    trial_root: str
    max_trials: int | None
    max_epochs: int | None
    startup_trials: int | None = None

    @property
    def metric(self) -> Metric:
        """The monitored metric and the direction the study optimizes it in."""
        return Metric.named(self.monitor, self.direction)

    def base(self, source: str) -> RunConfig:
        """The base config, as the study's trainer takes it (its own, or `TrainConfig`)."""
        from workflow.own_config import config_from_dump

        return config_from_dump(parse_yaml(self.base_config, source=source), self.trainer,
                                source=source)

    def search_space(self, source: str) -> SearchSpace:
        from phases.optimization.sweep.space import parse_space

        return parse_space(self.space, source=source, trainer=self.trainer)

    def same_search(self, other: SweepSpec) -> bool:
        """Whether `other` continues this search (the budget may change between runs)."""
        keep = {"max_trials", "max_epochs", "trial_root", "trainer"}
        return self.model_dump(exclude=keep) == other.model_dump(exclude=keep)


@dataclass(frozen=True)
class Budget:
    max_trials: int | None
    max_epochs: int | None
    deadline: float | None  # time.time() after which no trial starts


def create_study(
    storage: optuna.storages.BaseStorage, name: str, spec: SweepSpec, space: SearchSpace
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it to continue it; True when it is new.

    A new grid study gets every grid point enqueued (shuffled by the seed, so a
    smaller trial budget runs a random subset of the grid). Continuing a study
    with a different search is an error: the old trials would not answer it.
    """
    quiet()
    import optuna

    study = optuna.create_study(
        storage=storage, study_name=name, direction=spec.direction, load_if_exists=True
    )
    recorded = study.user_attrs.get(SPEC_ATTR)
    if recorded is not None:
        old = SweepSpec.model_validate(recorded)
        if not old.same_search(spec):
            changed = sorted(
                k
                for k, v in spec.model_dump().items()
                if old.model_dump().get(k) != v
                and k not in ("max_trials", "max_epochs", "trial_root", "trainer")
            )
            raise ConfigError(
                f"study {name!r} already holds a different search ({', '.join(changed)} "
                "changed): give a new study name, or remove the sweep folder to start over"
            )
        study.set_user_attr(SPEC_ATTR, spec.model_dump(mode="json"))
        return study, False
    if spec.method == "grid" and not study.trials:
        import random

        points = space.grid()
        random.Random(spec.seed).shuffle(points)
        for point in points:
            study.enqueue_trial(point, skip_if_exists=False)
    study.set_user_attr(SPEC_ATTR, spec.model_dump(mode="json"))
    return study, True


def load_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    *,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    quiet()
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise ConfigError(
            f"no study named {name!r} in this storage (it has: {', '.join(names) or 'none'})"
        ) from None


def read_spec(study: optuna.Study) -> SweepSpec:
    recorded = study.user_attrs.get(SPEC_ATTR)
    if recorded is None:
        raise ConfigError(
            f"study {study.study_name!r} was not created by phasegate (no {SPEC_ATTR} attribute)"
        )
    return validate(recorded, SweepSpec, source=f"study {study.study_name}: {SPEC_ATTR}")


def read_deadline(study: optuna.Study) -> float | None:
    value = study.user_attrs.get(DEADLINE_ATTR)
    return float(value) if value is not None else None


def set_deadline(study: optuna.Study, wall_time_s: float | None) -> None:
    study.set_user_attr(DEADLINE_ATTR, time.time() + wall_time_s if wall_time_s else None)


def make_sampler(spec: SweepSpec, worker_seed: int) -> optuna.samplers.BaseSampler:
    """Grid trials are all enqueued, so their sampler only fills what a point lacks (seeded per
    worker); random and TPE draw from the study's seed and each trial's place (`draws`), the
    same in every worker and on every rerun; a user's sampler gets the worker's seed."""
    quiet()
    import optuna

    if spec.method not in METHODS:
        return _user_sampler(spec.method, worker_seed)
    if spec.method == "grid":
        return optuna.samplers.RandomSampler(seed=worker_seed)
    if spec.method == "random":
        from phases.optimization.sweep.draws import slot_seeded_random

        sampler: optuna.samplers.BaseSampler = slot_seeded_random()(spec.seed)
        return sampler
    startup = spec.startup_trials
    if startup is None:
        # TPE needs a few random trials to model; a small budget cannot spare ten
        startup = max(3, min(10, (spec.max_trials or DEFAULT_TRIALS) // 4))
    from phases.optimization.sweep.draws import slot_seeded_tpe

    return slot_seeded_tpe()(
        spec.seed,
        n_startup_trials=startup,
        multivariate=True,
        group=True,  # conditional parameters: model each branch of the space apart
        constant_liar=True,  # parallel workers do not all propose the same point
    )


def make_pruner(spec: SweepSpec, epochs: int | None) -> optuna.pruners.BasePruner:
    """Pruners decide per epoch; they are rebuilt in every worker from the spec. `epochs`
    None: a trial's epoch count is unknown (an own config with no key meaning
    training.epochs), and a shipped pruner, sized by it, prunes nothing (`pruning_off`)."""
    quiet()
    import optuna

    if spec.pruner not in PRUNERS:
        return _user_pruner(spec.pruner)
    if spec.pruner == "none" or epochs is None:
        return optuna.pruners.NopPruner()
    if spec.pruner == "median":
        # the median of few completed trials is a ratchet (pruned trials never lower it),
        # and the first epochs rank learning rates badly: wait for both
        return optuna.pruners.MedianPruner(
            n_startup_trials=5, n_warmup_steps=max(1, epochs // 3), interval_steps=1
        )
    if spec.pruner == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(1, epochs // 9), reduction_factor=3
        )
    return optuna.pruners.HyperbandPruner(
        min_resource=max(1, epochs // 9), max_resource=max(epochs, 2), reduction_factor=3
    )


def pruning_off(pruner: str, base: Any) -> str | None:
    """Why a shipped pruner prunes nothing for `base` (None: it prunes as set)."""
    if pruner in PRUNERS and pruner != "none" and not getattr(base.training, "known", True):
        return (f"pruner {pruner} off: it is sized by the epochs a trial trains, and no key "
                "of the trainer's own config means training.epochs")
    return None


def check_extensions(settings: SweepSettings) -> None:
    """A user's sampler or pruner (`module:Class`) loads and fits its Optuna base.

    Called when the study is created: a class that does not fit is an
    `ExtensionError` (one line, exit 2) before any trial runs.
    """
    if settings.method not in METHODS:
        _user_sampler(settings.method, settings.seed)
    if settings.pruner not in PRUNERS:
        _user_pruner(settings.pruner)


def _user_sampler(spec: str, seed: int) -> optuna.samplers.BaseSampler:
    quiet()
    import optuna

    cls = load_class(spec, role="sweep sampler", base=optuna.samplers.BaseSampler)
    takes_seed = "seed" in inspect.signature(cls).parameters
    sampler: optuna.samplers.BaseSampler = _build(
        cls, spec, "sweep sampler", **({"seed": seed} if takes_seed else {})
    )
    return sampler


def _user_pruner(spec: str) -> optuna.pruners.BasePruner:
    quiet()
    import optuna

    cls = load_class(spec, role="sweep pruner", base=optuna.pruners.BasePruner)
    pruner: optuna.pruners.BasePruner = _build(cls, spec, "sweep pruner")
    return pruner


def _build(cls: type, spec: str, role: str, **kwargs: Any) -> Any:
    try:
        return cls(**kwargs)
    except Exception as exc:  # a user's constructor may fail in any way
        raise ExtensionError(f"{role} {spec!r}: cannot be built ({exc})") from None


def counted(trial: FrozenTrial) -> bool:
    """Whether a trial uses a place of the trial budget: run, running, or failed on its own
    (an interrupted trial gives its place to its retry; an over-budget one never ran)."""
    from optuna.trial import TrialState

    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    if trial.state == TrialState.FAIL:
        return trial.user_attrs.get(OUTCOME) not in ("interrupted", "skipped")
    return False


def epochs_spent(trials: Sequence[FrozenTrial]) -> int:
    return sum(int(t.user_attrs.get(EPOCHS, 0) or 0) for t in trials)


def budget_spent(trials: Sequence[FrozenTrial], budget: Budget) -> str | None:
    """Why no further trial may start, or None."""
    if budget.max_trials is not None:
        used = sum(1 for t in trials if counted(t))
        if used >= budget.max_trials:
            return f"trial budget spent ({used} of {budget.max_trials} trials)"
    if budget.max_epochs is not None:
        epochs = epochs_spent(trials)
        if epochs >= budget.max_epochs:
            return f"epoch budget spent ({epochs} of {budget.max_epochs} epochs)"
    if budget.deadline is not None and time.time() >= budget.deadline:
        return "wall-time budget spent"
    return None


def over_budget(trials: Sequence[FrozenTrial], number: int, budget: Budget) -> bool:
    """Whether trial `number` came after the budget's last place: two workers that both saw
    one place left both ask; trial numbers are given out in order, so the later one yields."""
    if budget.max_trials is None:
        return False
    before = sum(1 for t in trials if t.number < number and counted(t))
    return before >= budget.max_trials
