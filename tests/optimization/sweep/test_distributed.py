"""Workers that join one study through `phasegate sweep worker`, as they would from many hosts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from phases.optimization.sweep import SweepSettings, parse_space
from phases.optimization.sweep import study as st
from phases.optimization.sweep.run import prepare_study
from tests.optimization.sweep.conftest import REPO, subprocess_env, tiny_base
from workflow.cli import main


def test_two_workers_share_one_study_in_postgresql(postgres_url: str, tmp_path: Path) -> None:
    # a grid study in a real PostgreSQL server; two `phasegate sweep worker` processes join it:
    # every grid point is run exactly once, by one worker, both workers take part, and the
    # study completes with no trial left waiting or running
    space = parse_space(
        {
            "optimizer.lr": {"type": "float", "low": 0.001, "high": 0.1, "log": True,
                             "grid_points": 4},
            "model.widths": {"type": "categorical", "choices": [[16], [32]]},
        },
        source="space",
    )
    settings = SweepSettings(method="grid", pruner="none", storage=postgres_url,
                             study_name="digits-grid")
    trainer = "tests.optimization.sweep.trainers:slow_fit"
    _, study, spec = prepare_study(
        tiny_base(epochs=2), space, tmp_path / "sweep", settings, trainer=trainer
    )
    assert spec.max_trials == 8
    # each worker runs the trainer and base config of the project file on its own host
    (tmp_path / "base.yaml").write_text(tiny_base(epochs=2).to_yaml())
    project = tmp_path / "project.yaml"
    project.write_text(f"name: p\nbaseline: base.yaml\ntrainer: {trainer}\n")
    env = subprocess_env()
    env["PHASEGATE_TEST_EPOCH_DELAY"] = "0.3"
    command = [sys.executable, "-m", "workflow", "sweep", "worker", "--storage", postgres_url,
               "--study", "digits-grid", "--project", str(project)]
    workers = [
        subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    ran = [{int(n) for n in re.findall(r"^\s*sweep trial (\d+) complete", out, re.M)}
           for out in outputs]
    assert ran[0] and ran[1], f"one worker ran every trial: {outputs}"
    assert not ran[0] & ran[1], "a trial was run by both workers"
    assert ran[0] | ran[1] == set(range(8))
    for out in outputs:
        assert "trial budget spent (8 of 8 trials)" in out

    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    run_points = sorted(repr(sorted(t.params.items())) for t in trials)
    grid_points = sorted(repr(sorted(p.items())) for p in space.grid())
    assert run_points == grid_points
    assert {t.user_attrs[st.WORKER]["pid"] for t in trials} == {w.pid for w in workers}
    for number in range(8):
        assert (tmp_path / "sweep" / f"trial-{number}" / "metrics.json").is_file()


def test_a_worker_for_a_missing_study_or_storage_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # joining needs an existing study: a missing journal or study name is bad input, exit 2
    journal = tmp_path / "study.journal"
    assert main(["sweep", "worker", "--storage", str(journal), "--study", "p"]) == 2
    assert capsys.readouterr().err == f"phasegate: storage {journal}: no such journal file\n"
    prepare_study(tiny_base(), parse_space({"optimizer.lr": {"type": "float", "low": 0.01,
                                                              "high": 0.1}}, source="s"),
                  tmp_path, SweepSettings(study_name="real"))
    assert main(["sweep", "worker", "--storage", str(journal), "--study", "typo"]) == 2
    assert capsys.readouterr().err == (
        "phasegate: no study named 'typo' in this storage (it has: real)\n"
    )


def test_a_worker_joins_a_local_journal_study_and_stops_at_its_own_trial_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--trials N` bounds one worker; the study keeps the rest of its budget for others
    space = parse_space({"optimizer.lr": {"type": "float", "low": 0.01, "high": 0.1}}, source="s")
    url, study, _ = prepare_study(tiny_base(epochs=2), space, tmp_path,
                                  SweepSettings(method="random", trials=5, study_name="p"))
    assert main(["sweep", "worker", "--storage", url, "--study", "p", "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "worker done: 2 trials run; this worker ran its 2 trials" in out
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
