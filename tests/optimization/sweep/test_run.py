"""Whole sweeps on the embedded default: artifacts, the winner's curse, failures, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from phases.optimization.sweep import SweepSettings, parse_space, run_sweep
from phases.optimization.sweep import study as st
from phases.optimization.sweep.artifacts import read_trials_csv
from phases.optimization.sweep.storage import JOURNAL_FILE
from tests.conftest import tiny_config
from tests.optimization.helpers import diagnosed_project, rec
from tests.optimization.sweep.conftest import (
    REPO,
    RecordedProgress,
    small_space,
    subprocess_env,
    tiny_base,
)
from tests.optimization.sweep.trainers import RENDEZVOUS_ENV
from workflow.cli import main
from workflow.runner import train_seeds

FRESH = [100, 101, 102]


def test_a_bayesian_sweep_with_pruning_writes_every_artifact_and_reruns_the_top_three(
    tmp_path: Path,
) -> None:
    # 12 bayesian trials with median pruning on the embedded default (digits): trials.csv,
    # best_config.json, per-trial folders, importance, plots and the report section are
    # written; the top 3 are re-run on fresh seeds and each is compared with the baseline
    base = tiny_base(epochs=4)
    baseline = train_seeds(base, [0, 1, 2], tmp_path / "baseline", workers=1)
    baseline_values = [baseline[s].best["val_accuracy"] for s in (0, 1, 2)]
    progress = RecordedProgress()
    sweep_dir = tmp_path / "attempt-1" / "sweep"
    result = run_sweep(
        base,
        small_space(),
        sweep_dir,
        settings=SweepSettings(method="bayesian", pruner="median", trials=12, seed=0),
        fresh_seeds=FRESH,
        baseline_values=baseline_values,
        workers=1,
        progress=progress,
    )

    rows = read_trials_csv(sweep_dir / "trials.csv")
    assert [int(r["number"]) for r in rows] == list(range(12))
    assert {r["state"] for r in rows} <= {"complete", "pruned"}
    assert any(r["state"] == "pruned" for r in rows), "median pruning stopped no trial"
    assert {"number", "state", "value", "epochs_run", "time_s", "reason", "optimizer.lr"} <= set(
        rows[0]
    )
    # progress heard of every trial once, with the state and value trials.csv shows, and of
    # the re-runs: a step, then one training per candidate, every fresh seed done
    assert sorted(number for number, _, _ in progress.trials) == list(range(12))
    by_number = {int(r["number"]): r for r in rows}
    for number, state, value in progress.trials:
        assert by_number[number]["state"] == state
        assert value == (float(by_number[number]["value"]) if by_number[number]["value"]
                         else None)
    assert progress.steps == ["sweep: re-run the top 3 trial(s) on fresh seeds 100, 101, 102"]
    assert len(progress.trainings) == 3 and sorted(progress.seeds_done) == sorted(FRESH * 3)
    assert result.stop_reason == "trial budget spent (12 of 12 trials)"
    assert result.total_epochs == sum(int(r["epochs_run"]) for r in rows) < 12 * 4
    for number in range(12):
        assert (sweep_dir / f"trial-{number}" / "history.csv").is_file()
        assert json.loads((sweep_dir / f"trial-{number}" / "trial.json").read_text())
    for name in ("plots/values.png", "plots/heatmap.png"):
        assert (sweep_dir / name).read_bytes()[:4] == b"\x89PNG", name
    importance = json.loads((sweep_dir / "importance.json").read_text())["importance"]
    assert set(importance) <= set(small_space().names) and importance

    # the winner's curse: three distinct top trials, each re-run on every fresh seed
    assert len(result.candidates) == 3
    complete = sorted((r for r in result.trials if r.state == "complete"),
                      key=lambda r: -(r.value or 0))
    assert result.best_trial is not None
    assert result.candidates[0].trial == complete[0].number == result.best_trial.number
    for candidate in result.candidates:
        assert candidate.summary is not None and candidate.summary.n == 3
        assert sorted(p.name for p in candidate.rerun_dir.iterdir()) == [
            f"seed-{s}" for s in FRESH
        ]
        assert candidate.comparison is not None
        assert candidate.comparison.correction == "holm"
        assert list(candidate.comparison.baseline.values) == baseline_values
    best_rerun = max(c.summary.mean for c in result.candidates if c.summary)
    assert result.chosen is not None and result.chosen.summary is not None
    assert result.chosen.summary.mean == best_rerun

    best = json.loads((sweep_dir / "best_config.json").read_text())
    assert best["trial"] == result.chosen.trial and best["source"] == "re-run"
    assert best["config"]["optimizer"]["lr"] == result.chosen.config.optimizer.lr
    section = (sweep_dir / "sweep_summary.md").read_text()
    for candidate in result.candidates:
        row = next(line for line in section.splitlines() if line.startswith(f"| {candidate.rank}"))
        assert candidate.summary is not None
        assert f"{candidate.sweep_value:.4f}" in row  # sweep score beside ...
        assert f"{candidate.summary.mean:.4f} ± " in row  # ... the re-run mean
    assert "](plots/values.png)" in section and "](plots/heatmap.png)" in section
    twin = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert twin["result"]["chosen"]["trial"] == result.chosen.trial


def test_failed_and_diverged_trials_are_recorded_and_the_sweep_goes_on(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # a trial whose user code raises is failed with its reason, its traceback in its own
    # trial.log and not on the terminal; a diverging trial is failed as diverged; the
    # other trials run and one of them is chosen
    space = parse_space(
        {
            "optimizer.name": {"type": "categorical", "choices": ["adam", "rmsprop"]},
            "optimizer.lr": {"type": "float", "low": 0.01, "high": 1e6, "log": True,
                             "grid": [0.01, 1e6]},
        },
        source="space",
    )
    sweep_dir = tmp_path / "sweep"
    result = run_sweep(
        tiny_base(epochs=2),
        space,
        sweep_dir,
        settings=SweepSettings(method="grid", pruner="none", top_k=1),
        fresh_seeds=FRESH,
        trainer="tests.optimization.sweep.trainers:fragile_fit",
        workers=1,
    )
    by_params = {(r.params["optimizer.name"], r.params["optimizer.lr"]): r for r in result.trials}
    assert len(by_params) == 4
    assert by_params[("adam", 0.01)].state == "complete"
    diverged = by_params[("adam", 1e6)]
    assert diverged.state == "diverged" and diverged.reason.startswith("diverged: ")
    for lr in (0.01, 1e6):
        failed = by_params[("rmsprop", lr)]
        assert failed.state == "failed"
        assert failed.reason == (
            f"RuntimeError: user code cannot handle rmsprop "
            f"(traceback in trial-{failed.number}/trial.log)"
        )
        log = (sweep_dir / f"trial-{failed.number}" / "trial.log").read_text()
        assert "Traceback" in log and "fragile_fit" in log
    assert "Traceback" not in capfd.readouterr().err
    rows = {int(r["number"]): r for r in read_trials_csv(sweep_dir / "trials.csv")}
    assert rows[diverged.number]["state"] == "diverged" and rows[diverged.number]["reason"]
    assert result.chosen is not None and result.chosen.params["optimizer.name"] == "adam"


KILLED_SWEEP = """
import sys
from phases.optimization.sweep import SweepSettings, run_sweep
from tests.optimization.sweep.conftest import small_space, tiny_base

if __name__ == "__main__":
    run_sweep(tiny_base(epochs=3), small_space(), sys.argv[1],
              settings=SweepSettings(method="random", pruner="none", trials=8, workers=2, seed=3,
                                     top_k=1),
              fresh_seeds=[100, 101, 102], trainer="tests.optimization.sweep.trainers:slow_fit")
"""


def test_a_sweep_killed_with_sigkill_resumes_without_rerunning_finished_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kill -9 the whole sweep (coordinator and its two worker processes) once two trials have
    # finished and another is running; rerun: the same study continues, finished trials are
    # not trained again and appear once in trials.csv, the running one is retried, and the
    # study completes with the 8 trials asked for
    sweep_dir = tmp_path / "sweep"
    script = tmp_path / "sweep_script.py"
    script.write_text(KILLED_SWEEP)
    env = subprocess_env()
    env["PHASEGATE_TEST_EPOCH_DELAY"] = "0.4"
    with open(tmp_path / "sweep.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(script), str(sweep_dir)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        finished = wait_for_trials(sweep_dir / JOURNAL_FILE, process, finished=2, running=1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = {
        n: (state, value, (sweep_dir / f"trial-{n}" / "metrics.json").stat().st_mtime_ns)
        for n, (state, value) in finished.items()
    }

    monkeypatch.setenv("PHASEGATE_TEST_EPOCH_DELAY", "0.02")
    result = run_sweep(
        tiny_base(epochs=3), small_space(), sweep_dir,
        settings=SweepSettings(method="random", pruner="none", trials=8, workers=1, seed=3,
                               top_k=1),
        fresh_seeds=FRESH, trainer="tests.optimization.sweep.trainers:slow_fit",
        workers=1,
    )

    rows = read_trials_csv(sweep_dir / "trials.csv")
    numbers = [int(r["number"]) for r in rows]
    assert len(numbers) == len(set(numbers)), "a trial appears twice in trials.csv"
    by_number = {int(r["number"]): r for r in rows}
    for number, (state, value, mtime) in before.items():
        assert by_number[number]["state"] == state
        assert float(by_number[number]["value"]) == pytest.approx(value)
        assert (sweep_dir / f"trial-{number}" / "metrics.json").stat().st_mtime_ns == mtime
    interrupted = [r for r in rows if r["state"] == "interrupted"]
    assert interrupted, "the trial running at the kill was not marked interrupted"
    for row in interrupted:
        retries = [r for r in rows if r["retry_of"] == row["number"]]
        assert len(retries) == 1 and retries[0]["state"] == "complete"
        recorded = [k for k in small_space().names if row[k]]  # suggested before the kill
        assert {k: retries[0][k] for k in recorded} == {k: row[k] for k in recorded}
    done = [r for r in rows if r["state"] == "complete"]
    assert len(done) == 8 and len(rows) == 8 + len(interrupted)
    assert result.stop_reason == "trial budget spent (8 of 8 trials)"
    assert len(result.candidates) == 1


def wait_for_trials(
    journal: Path, process: subprocess.Popen[bytes], *, finished: int, running: int
) -> dict[int, tuple[str, float]]:
    """Poll the study's journal until enough trials finished while others still run."""
    deadline = time.time() + 120
    study = None
    while time.time() < deadline:
        assert process.poll() is None, "the sweep ended before it could be killed"
        if journal.is_file() and study is None:
            try:
                storage = optuna.storages.JournalStorage(
                    optuna.storages.journal.JournalFileBackend(str(journal))
                )
                study = optuna.load_study(study_name="sweep", storage=storage)
            except KeyError:
                study = None
        if study is not None:
            trials = study.get_trials(deepcopy=False)
            done = {
                t.number: ("complete", float(t.value))
                for t in trials if t.state == TrialState.COMPLETE and t.value is not None
            }
            if len(done) >= finished and any(t.state == TrialState.RUNNING for t in trials):
                return done
        time.sleep(0.1)
    raise AssertionError("no trial finished within two minutes")


def test_two_workers_take_trials_from_one_study_at_the_same_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # workers=2: two worker processes (neither of them this one) take trials from the study
    # at once. The rendezvous trainer lets a trial finish only while another process trains
    # too, so a sweep whose workers ran one after the other (or in one process) fails them.
    monkeypatch.setenv(RENDEZVOUS_ENV, str(tmp_path / "rendezvous"))
    sweep_dir = tmp_path / "sweep"
    result = run_sweep(
        tiny_base(epochs=2), small_space(), sweep_dir,
        settings=SweepSettings(method="random", pruner="none", trials=4, seed=1, top_k=1),
        fresh_seeds=FRESH, trainer="tests.optimization.sweep.trainers:rendezvous_fit",
        workers=2,
    )
    assert [r.state for r in result.trials] == ["complete"] * 4, result.trials
    pids = trial_pids(sweep_dir)
    assert len(set(pids.values())) == 2, f"one process took every trial: {pids}"
    assert os.getpid() not in pids.values()
    for i in (0, 1):
        assert "worker " + str(i) in (sweep_dir / "workers" / f"worker-{i}.log").read_text()


def trial_pids(sweep_dir: Path) -> dict[int, int]:
    """The pid of the worker process that ran each trial (recorded in its user attributes)."""
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(sweep_dir / JOURNAL_FILE))
    )
    study = optuna.load_study(study_name="sweep", storage=storage)
    return {t.number: int(t.user_attrs[st.WORKER]["pid"]) for t in study.get_trials()}


def test_optimize_strategy_sweep_workers_2_runs_two_sweep_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `phasegate optimize --strategy sweep --workers 2`: the command's --workers reaches the
    # sweep, and two worker processes take its trials at the same time (the rendezvous
    # trainer fails any trial that trains alone); the chosen trial's re-run is the attempt
    store = diagnosed_project(tmp_path, tiny_config(training={"epochs": 3}), [
        rec("R1", "HIGH", {"model.dropout": 0.3}),
        rec("R2", "LOW", {"optimizer.weight_decay": 0.01}),
        rec("R3", "LOW", {"schedule.name": "cosine"}),
    ], goal=0.64, trainer="tests.optimization.sweep.trainers:rendezvous_fake_fit")
    monkeypatch.setenv(RENDEZVOUS_ENV, str(tmp_path / "rendezvous"))
    space = tmp_path / "space.yaml"
    space.write_text("model.dropout: {type: float, low: 0.0, high: 0.5}\n")
    assert main(["optimize", store.name, "--strategy", "sweep", "--space", str(space),
                 "--method", "random", "--trials", "4", "--workers", "2",
                 "--runs", str(tmp_path / "runs")]) == 0
    sweep_dir = store.run_dir / "phase4" / "attempt-1" / "sweep"
    rows = read_trials_csv(sweep_dir / "trials.csv")
    assert [r["state"] for r in rows] == ["complete"] * 4, rows
    pids = trial_pids(sweep_dir)
    assert len(set(pids.values())) == 2, f"one process took every trial: {pids}"
    assert os.getpid() not in pids.values()
    assert store.get("phase4.attempts")[0]["strategy"] == "sweep"
