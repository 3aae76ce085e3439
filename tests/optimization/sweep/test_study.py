"""The study, its storage and recovery: budgets, interrupted trials, continuing, a user's
sampler and pruner. No training, but for one sweep that runs the user's classes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from phases.optimization.sweep import study as st
from phases.optimization.sweep.recovery import recover_interrupted, worker_identity
from phases.optimization.sweep.run import prepare_study, run_sweep
from phases.optimization.sweep.storage import JOURNAL_FILE, open_storage
from tests.optimization.sweep.conftest import small_space, tiny_base
from tests.optimization.sweep.extensions import EveryOtherPruner, SeededRandomSampler
from workflow.errors import ConfigError, ExtensionError, PluginError
from workflow.io import validate


def journal_study(tmp_path: Path, **settings: object) -> tuple[str, optuna.Study, st.SweepSpec]:
    return prepare_study(
        tiny_base(), small_space(), tmp_path / "sweep", st.SweepSettings.model_validate(settings)
    )


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_trial_budget_counts_run_and_running_trials_not_interrupted_ones(
    tmp_path: Path,
) -> None:
    # finished, failed and running trials use a place; interrupted and skipped ones do not;
    # of two workers that both saw one place left, the later trial number yields
    _, study, _ = journal_study(tmp_path, method="random", trials=3)
    budget = st.Budget(max_trials=3, max_epochs=None, deadline=None)
    first = study.ask()
    study.tell(first, 0.5)
    interrupted = study.ask()
    interrupted.set_user_attr(st.OUTCOME, "interrupted")
    study.tell(interrupted, state=TrialState.FAIL)
    study.ask()  # running
    assert st.budget_spent(study.get_trials(), budget) is None
    a, b = study.ask(), study.ask()  # both asked when one place was left
    trials = study.get_trials()
    assert st.budget_spent(trials, budget) == "trial budget spent (4 of 3 trials)"
    assert not st.over_budget(trials, a.number, budget)
    assert st.over_budget(trials, b.number, budget)
    epochs = st.Budget(max_trials=None, max_epochs=5, deadline=None)
    a.set_user_attr(st.EPOCHS, 5)  # running trials count the epochs they have run so far
    assert st.budget_spent(study.get_trials(), epochs) == "epoch budget spent (5 of 5 epochs)"
    assert st.budget_spent([], st.Budget(None, None, deadline=0.0)) == "wall-time budget spent"


def test_a_trial_whose_worker_died_is_failed_and_enqueued_again(tmp_path: Path) -> None:
    # a RUNNING trial whose process on this host is gone becomes FAIL (interrupted) and its
    # params are enqueued once as a retry; a trial whose worker lives is left alone
    _, study, _ = journal_study(tmp_path, method="random", trials=5)
    orphan = study.ask()
    small_space().suggest(orphan)
    orphan.set_user_attr(st.WORKER, {"host": worker_identity()["host"], "pid": dead_pid()})
    alive = study.ask()
    small_space().suggest(alive)
    alive.set_user_attr(st.WORKER, worker_identity())
    alive.set_user_attr(st.HEARTBEAT, 1e12)

    assert recover_interrupted(study) == [orphan.number]
    trials = {t.number: t for t in study.get_trials()}
    assert trials[orphan.number].state == TrialState.FAIL
    assert trials[orphan.number].user_attrs[st.OUTCOME] == "interrupted"
    assert "died" in trials[orphan.number].user_attrs[st.REASON]
    assert trials[alive.number].state == TrialState.RUNNING
    waiting = [t for t in trials.values() if t.state == TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].user_attrs[st.RETRY_OF] == orphan.number
    retry = study.ask()
    assert retry.number == waiting[0].number
    assert small_space().suggest(retry) == small_space().decode(trials[orphan.number].params)
    assert recover_interrupted(study) == []  # nothing twice


def test_continuing_a_study_with_another_search_is_refused(tmp_path: Path) -> None:
    # rerunning continues the same study; a changed space or method would mix two searches
    journal_study(tmp_path, method="random", trials=4)
    journal_study(tmp_path, method="random", trials=9)  # a new budget is fine
    with pytest.raises(ConfigError, match=r"study 'sweep' already holds a different search "
                       r"\(method changed\)"):
        journal_study(tmp_path, method="bayesian", trials=4)


def test_a_grid_study_enqueues_each_point_once(tmp_path: Path) -> None:
    # a grid is enqueued when the study is created, not again when it is continued
    _, study, spec = journal_study(tmp_path, method="grid")
    points = len(small_space().grid())
    assert spec.max_trials == points
    journal_study(tmp_path, method="grid")
    assert len(study.get_trials(states=(TrialState.WAITING,))) == points


def test_a_storage_that_cannot_be_opened_is_one_line() -> None:
    # a bad URL or an unreachable server: one line, the password hidden
    with pytest.raises(ConfigError) as info:
        open_storage("postgresql://me:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("storage postgresql://me:***@127.0.0.1:1/nothing: ")


@pytest.mark.parametrize(
    ("method", "pruner", "sampler_class", "pruner_class"),
    [
        ("grid", "none", optuna.samplers.RandomSampler, optuna.pruners.NopPruner),
        ("random", "median", optuna.samplers.RandomSampler, optuna.pruners.MedianPruner),
        ("bayesian", "asha", optuna.samplers.TPESampler, optuna.pruners.SuccessiveHalvingPruner),
        ("bayesian", "hyperband", optuna.samplers.TPESampler, optuna.pruners.HyperbandPruner),
    ],
)
def test_each_method_and_pruner_maps_to_its_optuna_class(
    tmp_path: Path, method: str, pruner: str, sampler_class: type, pruner_class: type
) -> None:
    # grid trials are all enqueued (any sampler only replays them); random and bayesian draw
    # from the study's seed and the trial's place, so any two workers, and a rerun, draw the
    # same point for one place and different points for two (see test_resume)
    _, study, spec = journal_study(tmp_path, method=method, pruner=pruner)
    assert isinstance(st.make_sampler(spec, 7), sampler_class)
    assert isinstance(st.make_pruner(spec, epochs=15), pruner_class)
    if method == "random":
        frozen = optuna.trial.create_trial(state=TrialState.RUNNING)
        frozen.number = 0
        dist = optuna.distributions.FloatDistribution(0, 1)
        first = [st.make_sampler(spec, seed).sample_independent(study, frozen, "x", dist)
                 for seed in (0, 1)]
        study.add_trial(optuna.trial.create_trial(value=0.5))  # trial 0 ran: 1 is place 1
        frozen.number = 1
        second = st.make_sampler(spec, 0).sample_independent(study, frozen, "x", dist)
        assert first[0] == first[1] != second


EXTENSIONS = "tests.optimization.sweep.extensions"


def test_a_users_sampler_and_pruner_named_module_class_run_the_sweep(tmp_path: Path) -> None:
    # `method: module:Class` and `pruner: module:Class` beside the built-in names: the study
    # is created with them, each worker builds them (the sampler with its seed), and the
    # pruner decides: EveryOtherPruner prunes each odd-numbered trial after its first epoch
    settings = st.SweepSettings(method=f"{EXTENSIONS}:SeededRandomSampler",
                                pruner=f"{EXTENSIONS}:EveryOtherPruner", trials=4, top_k=1)
    _, _, spec = prepare_study(tiny_base(epochs=3), small_space(), tmp_path / "sweep", settings)
    assert isinstance(st.make_sampler(spec, 7), SeededRandomSampler)
    assert isinstance(st.make_pruner(spec, epochs=3), EveryOtherPruner)
    result = run_sweep(tiny_base(epochs=3), small_space(), tmp_path / "sweep",
                       settings=settings, fresh_seeds=[100, 101, 102], workers=1)
    assert [(r.number, r.state) for r in result.trials] == [
        (0, "complete"), (1, "pruned"), (2, "complete"), (3, "pruned")
    ]
    assert result.method == f"{EXTENSIONS}:SeededRandomSampler"


@pytest.mark.parametrize(
    ("field", "name", "words"),
    [
        ("pruner", "NotAPruner", "sweep pruner 'tests.optimization.sweep.extensions:NotAPruner': "
         "NotAPruner must derive from optuna.pruners._base.BasePruner"),
        ("method", "HalfASampler", "sweep sampler 'tests.optimization.sweep.extensions:"
         "HalfASampler': HalfASampler does not implement "),
        ("method", "NoSuchSampler", "has no attribute 'NoSuchSampler'"),
    ],
)
def test_a_users_sampler_or_pruner_that_does_not_fit_is_refused_when_the_study_is_created(
    tmp_path: Path, field: str, name: str, words: str
) -> None:
    # a class that does not derive from Optuna's base, leaves its abstract methods out, or
    # is not there: one line, exit 2, before the study (or any trial) exists
    settings = st.SweepSettings.model_validate({field: f"{EXTENSIONS}:{name}"})
    with pytest.raises(PluginError) as info:
        prepare_study(tiny_base(), small_space(), tmp_path / "sweep", settings)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2
    if name != "NoSuchSampler":
        assert isinstance(info.value, ExtensionError)
    assert not (tmp_path / "sweep" / JOURNAL_FILE).exists()


def test_a_method_or_pruner_that_is_neither_built_in_nor_module_class_is_refused() -> None:
    # a typo of a built-in name is not taken for a user's class
    with pytest.raises(ConfigError, match=r"method: expected one of grid, random, bayesian or a "
                       r"sampler class as 'module:Class', but got 'bayes'"):
        validate({"method": "bayes"}, st.SweepSettings, source="s")
    with pytest.raises(ConfigError, match=r"pruner: expected one of none, median, asha, "
                       r"hyperband or a pruner class"):
        validate({"pruner": "medain"}, st.SweepSettings, source="s")


@pytest.mark.parametrize(
    ("monitor", "direction", "expected"),
    [("val_accuracy", None, "maximize"), ("val_loss", None, "minimize"),
     ("val_accuracy", "minimize", "minimize")],
)
def test_the_study_direction_is_the_metrics(
    tmp_path: Path, monitor: str, direction: str | None, expected: str
) -> None:
    # a loss is minimized, anything else maximized (workflow.metric), unless the settings
    # say which way is better
    _, study, spec = journal_study(tmp_path, monitor=monitor, direction=direction)
    assert spec.direction == expected == spec.metric.direction
    assert study.direction.name.lower() == expected
