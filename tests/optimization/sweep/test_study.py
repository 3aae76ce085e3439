"""The study, its storage and recovery: budgets, interrupted trials, continuing. No training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from phases.optimization.sweep import study as st
from phases.optimization.sweep.recovery import recover_interrupted, worker_identity
from phases.optimization.sweep.run import prepare_study
from phases.optimization.sweep.storage import open_storage
from tests.optimization.sweep.conftest import small_space, tiny_base
from workflow.errors import ConfigError


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
    # grid trials are all enqueued (any sampler only replays them); random and bayesian are
    # seeded per worker, so two workers never propose the same sequence
    _, _, spec = journal_study(tmp_path, method=method, pruner=pruner)
    assert isinstance(st.make_sampler(spec, 7), sampler_class)
    assert isinstance(st.make_pruner(spec, epochs=15), pruner_class)
    if method == "random":
        first = [st.make_sampler(spec, seed).sample_independent(
            None, None, "x",  # type: ignore[arg-type]
            optuna.distributions.FloatDistribution(0, 1)) for seed in (0, 0, 1)]
        assert first[0] == first[1] != first[2]
