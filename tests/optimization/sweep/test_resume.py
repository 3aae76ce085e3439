"""A sweep killed (SIGKILL) or interrupted (Ctrl-C) and rerun reaches what an uninterrupted one
reaches: the same points, each run once, the same values and the same chosen config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phases.optimization.sweep import SweepSettings, run_sweep
from phases.optimization.sweep.draws import draw_points, slot
from phases.optimization.sweep.records import SweepResult
from phases.optimization.sweep.storage import JOURNAL_FILE
from tests.optimization.sweep.conftest import REPO, small_space, subprocess_env, tiny_base
from tests.optimization.sweep.test_run import wait_for_trials

TRAINER = "tests.optimization.sweep.trainers:slow_fit"
# the case: random search, median pruner, 5 trials (2 workers when killed)
SETTINGS = {"method": "random", "pruner": "median", "trials": 5, "seed": 3, "top_k": 1}
FRESH = [100, 101, 102]

SWEEP = f"""
import sys
from phases.optimization.sweep import SweepSettings, run_sweep
from tests.optimization.sweep.conftest import small_space, tiny_base

if __name__ == "__main__":
    run_sweep(tiny_base(epochs=3), small_space(), sys.argv[1],
              settings=SweepSettings(workers=2, **{SETTINGS!r}),
              fresh_seeds={FRESH!r}, trainer={TRAINER!r})
"""


def _sweep(sweep_dir: Path) -> SweepResult:
    return run_sweep(tiny_base(epochs=3), small_space(), sweep_dir,
                     settings=SweepSettings(workers=1, **SETTINGS), fresh_seeds=FRESH,
                     trainer=TRAINER, workers=1)


def _point(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _ran(result: SweepResult) -> dict[str, float | None]:
    """Each point that ran to an outcome (interrupted ones left out), and its value."""
    ran = [r for r in result.trials if r.state != "interrupted"]
    points = [_point(r.params) for r in ran]
    assert len(points) == len(set(points)), f"a point ran twice: {points}"
    return {_point(r.params): r.value for r in ran}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SweepResult]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHASEGATE_TEST_EPOCH_DELAY", "0")
        yield _sweep(tmp_path_factory.mktemp("uninterrupted") / "sweep")


# rule: the sweep runs the points drawn from its seed, one per place of the budget, in order
def test_a_random_sweep_runs_the_points_drawn_from_its_seed(
    uninterrupted: SweepResult,
) -> None:
    drawn = [_point(small_space().decode(p)) for p in draw_points(small_space(), 3, 5)]
    assert [_point(r.params) for r in uninterrupted.trials] == drawn
    assert [r.state for r in uninterrupted.trials] == ["complete"] * 5


# rule: killed by SIGKILL (the whole group) or interrupted by Ctrl-C while one trial finished and
# others ran, then rerun: the resumed study ran the uninterrupted run's points, each once (an
# interrupted trial retried on its own point), with the same values, and chose the same config;
# no .trial-<n>.partial folder is left (Ctrl-C removes them itself)
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_a_killed_sweep_resumes_to_the_uninterrupted_result(
    uninterrupted: SweepResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    how: signal.Signals,
) -> None:
    sweep_dir = tmp_path / "sweep"
    script = tmp_path / "sweep_script.py"
    script.write_text(SWEEP)
    env = {**subprocess_env(), "PHASEGATE_TEST_EPOCH_DELAY": "0.4"}
    with open(tmp_path / "sweep.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(script), str(sweep_dir)], cwd=REPO,
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_for_trials(sweep_dir / JOURNAL_FILE, process, finished=1, running=1)
    finally:
        os.killpg(process.pid, how)
        process.wait(timeout=120)
    if how == signal.SIGINT:
        assert list(sweep_dir.glob(".trial-*.partial")) == []

    monkeypatch.setenv("PHASEGATE_TEST_EPOCH_DELAY", "0")
    resumed = _sweep(sweep_dir)

    interrupted = [r for r in resumed.trials if r.state == "interrupted"]
    assert interrupted, "no trial was running at the kill"
    for row in interrupted:
        [retry] = [r for r in resumed.trials if r.retry_of == row.number]
        # its queued point, of which it may have suggested only a part before the kill
        assert {k: retry.params[k] for k in row.params} == row.params
        assert _point(retry.params) in _ran(uninterrupted)
    expected = _ran(uninterrupted)
    got = _ran(resumed)
    assert sorted(got) == sorted(expected)
    for point, value in expected.items():
        assert got[point] == pytest.approx(value)
    assert resumed.chosen is not None and uninterrupted.chosen is not None
    assert _point(resumed.chosen.params) == _point(uninterrupted.chosen.params)
    assert resumed.chosen.values == pytest.approx(uninterrupted.chosen.values)
    assert list(sweep_dir.glob(".trial-*.partial")) == []


# rule: a trial's place counts the trials before it that were asked for a new point: a retry
# reruns the place of the trial it retries, a skipped trial holds none, and an interrupted one
# keeps its place (found interrupted later, it must not move the places of trials after it)
def test_a_trials_place_is_fixed_when_it_is_asked_for() -> None:
    from optuna.trial import TrialState, create_trial

    def trial(number: int, outcome: str | None = None, retry_of: int | None = None) -> Any:
        attrs: dict[str, Any] = {"outcome": outcome} if outcome else {}
        if retry_of is not None:
            attrs["retry_of"] = retry_of
        made = create_trial(state=TrialState.FAIL if outcome else TrialState.COMPLETE,
                            value=None if outcome else 0.5, user_attrs=attrs)
        made.number = number
        return made

    trials = [trial(0), trial(1, "interrupted"), trial(2, "interrupted"), trial(3),
              trial(4, retry_of=1), trial(5, "skipped"), trial(6, retry_of=2), trial(7)]
    assert [slot(trials, n) for n in range(9)] == [0, 1, 2, 3, 1, 4, 2, 4, 5]
    still_running = [*trials[:1], trial(1), *trials[2:4]]  # before 1 was found interrupted
    assert slot(still_running, 3) == slot(trials, 3)


# rule: a Bayesian (TPE) sweep reseeded per place draws, after a kill (the sampler rebuilt
# from its seed by the rerun), an interrupted trial and its retry, the very points an
# uninterrupted one draws (one worker, so the same results in the same order)
def test_a_bayesian_sampler_resumes_to_the_uninterrupted_points() -> None:
    import optuna
    from optuna.trial import TrialState

    from phases.optimization.sweep.draws import slot_seeded_tpe

    def sampler() -> optuna.samplers.BaseSampler:
        return slot_seeded_tpe()(3, n_startup_trials=4, multivariate=True, group=True,
                                 constant_liar=True)

    def run(target: optuna.Study, count: int) -> None:
        for _ in range(count):
            trial = target.ask()
            x, y = trial.suggest_float("x", -3, 3), trial.suggest_float("y", -3, 3)
            target.tell(trial, (x - 1) ** 2 + (y + 1) ** 2)

    straight = optuna.create_study(sampler=sampler())
    run(straight, 8)
    storage = optuna.storages.InMemoryStorage()
    first = optuna.create_study(storage=storage, study_name="s", sampler=sampler())
    run(first, 2)
    killed = first.ask()  # killed while it trained: failed as interrupted, enqueued again
    killed.suggest_float("x", -3, 3)
    killed.suggest_float("y", -3, 3)
    killed.set_user_attr("outcome", "interrupted")
    first.tell(killed, state=TrialState.FAIL)
    first.enqueue_trial(killed.params, user_attrs={"retry_of": killed.number})
    rerun = optuna.load_study(study_name="s", storage=storage, sampler=sampler())
    run(rerun, 6)
    done = [t.params for t in rerun.trials if t.state == TrialState.COMPLETE]
    assert done == [t.params for t in straight.trials]
