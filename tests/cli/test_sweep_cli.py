"""Sweeps from the command line: the project file asks for one and `run` runs it, to promoted;
a sweep with no search space is refused in one line, never replaced by another attempt.

These tests train (tiny MLPs and CNNs on a few hundred digits, CPU, one worker).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.conftest import CLI, write_project
from tests.conftest import tiny_config
from workflow.store import Store

# an lr ten times too low for three epochs: any sensible trial of the sweep beats it by tens
# of points, significantly, past the goal (decision A); `channels` is for the CNN trials
UNDERTUNED = tiny_config(optimizer={"name": "sgd", "lr": 0.001, "momentum": 0.9},
                         model={"name": "mlp", "widths": [32], "channels": [8]},
                         training={"epochs": 3})
SPACE = {
    "model.name": {"type": "categorical", "choices": ["mlp", "cnn"]},
    "optimizer.lr": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
}


# rule (acceptance): `phasegate run` of a project file that asks for a bayesian sweep over a
# space including the model family reaches promoted in one command; the sweep shows its
# trials on the terminal (done, pruned, the best so far) and run prints what it signed
def test_run_sweeps_from_the_project_file_to_promoted(home: Path, cli: CLI) -> None:
    (home / "proj" / "space.yaml").write_text(yaml.safe_dump(SPACE))
    project = write_project(
        home / "proj", baseline=UNDERTUNED, target={"goal": 0.5}, strategy="sweep",
        sweep={"space": "space.yaml", "method": "bayesian", "pruner": "none", "trials": 3,
               "top_k": 1},
    )
    runs = home / "runs"
    code, out, err = cli("run", str(project), "--runs", str(runs), "--sign-off", "tester")
    assert code == 0, out + err
    assert "demo is promoted (done)" in out
    assert "signed: finalization_complete/model_card_reviewed signed by tester" in out
    assert "covering phase5/finalization_report.md (sha256 " in out
    store = Store.open("demo", runs)
    assert store.current == "promoted"
    first = store.get("phase4.attempts")[0]
    assert first["strategy"] == "sweep" and first["decision"] == "A"
    plan = json.loads((store.run_dir / "phase4/attempt-1/plan.json").read_text())
    assert plan["source"] == "--space"  # the project file's space, not Phase 3's
    assert set(plan["extra"]["search_space"]) == {"model.name", "optimizer.lr"}
    # progress on the terminal (stderr): every trial with the tally so far
    for number in range(3):
        assert f"sweep trial {number} " in err
    assert "3 trials done, 0 pruned, best val_accuracy " in err


# rule (acceptance): after a Phase 3 that chose iterative (and wrote no search space),
# `optimize --strategy sweep --method bayesian --trials 8` is refused in one line saying how to
# give a space (exit 2); no attempt is made in its place
def test_a_sweep_without_a_space_is_refused(home: Path, cli: CLI) -> None:
    write_project(home / "proj", strategy="iterative")
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    assert cli("baseline", "demo")[0] == 0
    assert cli("diagnose", "demo")[0] == 0
    store = Store.open("demo", home / "runs")
    assert store.get("phase3.strategy") == "iterative"
    assert not store.get("phase3.search_space")
    code, out, _ = cli("advance", "demo")
    assert code == 0, out
    code, out, err = cli("optimize", "demo", "--strategy", "sweep", "--method", "bayesian",
                         "--trials", "8")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "needs a search space" in err and "--space FILE" in err
    assert not (store.run_dir / "phase4" / "attempt-1").exists()
    assert store.get("phase4.attempts", []) == []
    code, out, _ = cli("optimize", "demo", "--strategy", "sweep", "--json")
    assert code == 2 and "needs a search space" in json.loads(out)["error"]
    # a sweep flag without --strategy sweep would be ignored by the iterative strategy: refused
    code, _, err = cli("optimize", "demo", "--trials", "4")
    assert code == 2 and "apply to a sweep, but Phase 4 of demo runs iterative (auto)" in err
    assert not (store.run_dir / "phase4" / "attempt-1").exists()


# rule: `run` given a sweep flag while Phase 4 runs another strategy refuses it (exit 2)
# before Phase 4 starts, instead of leaving the flag unused
def test_run_refuses_sweep_flags_for_another_strategy(home: Path, cli: CLI) -> None:
    write_project(home / "proj", strategy="iterative")
    code, out, err = cli("run", "proj/project.yaml", "--trials", "3", "--sign-off", "a")
    assert code == 2, out + err
    assert "--trials applies to a sweep, but Phase 4 of demo runs iterative" in err
    store = Store.open("demo", home / "runs")
    assert store.current == "diagnosed"
    assert not (store.run_dir / "phase4").exists()
