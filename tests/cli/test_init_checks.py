"""`init` and `run` check everything up front: the project file's bounds, the goal against its
metric, the baseline config and its plug-ins, the phase settings. Bad input is one line,
exit 2, and nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import CLI, write_project
from tests.conftest import tiny_config


def _refused(home: Path, cli: CLI, *argv: str) -> str:
    code, out, err = cli(*argv)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("phasegate: ")
    assert not (home / "runs" / "demo").exists()
    return err


# rule (acceptance): the goal is validated against its metric: a rate's goal lies in [0, 1]
# (97, 1.5, -0.1 are refused), a loss's goal is at least 0, and every goal is finite
@pytest.mark.parametrize(("target", "expected"), [
    ({"goal": 97}, "must be in [0, 1], but got 97.0"),
    ({"goal": 1.5}, "must be in [0, 1], but got 1.5"),
    ({"goal": -0.1}, "must be in [0, 1], but got -0.1"),
    ({"goal": ".nan"}, "target.goal: Input should be a finite number"),
    ({"goal": ".inf"}, "target.goal: Input should be a finite number"),
    ({"metric": "val_loss", "goal": -1}, "val_loss is a loss, never below 0"),
])
def test_the_goal_fits_its_metric(home: Path, cli: CLI, target: dict, expected: str) -> None:
    text = yaml.safe_dump({"name": "demo", "baseline": "baseline.yaml"})
    goal = target["goal"]
    fields = ", ".join(f"{k}: {v}" for k, v in target.items() if k != "goal")
    body = "{" + (fields + ", " if fields else "") + f"goal: {goal}" + "}"
    (home / "proj" / "project.yaml").write_text(text + f"target: {body}\n")
    err = _refused(home, cli, "init", "demo", "--config", "proj/project.yaml")
    assert expected in err


# rule (issue 17): every number of a project file is bounded, and the name is a plain slug
# with no trailing newline or control character: one line each, exit 2
@pytest.mark.parametrize(("fields", "expected"), [
    ({"seeds": [0, 1, 2**32]}, "seeds.2: Input should be less than or equal to 4294967295"),
    ({"seeds": [-1, 0, 1]}, "seeds.0: Input should be greater than or equal to 0"),
    ({"fresh_seeds": [7, 8, 2**40]}, "fresh_seeds.2: Input should be less than or equal"),
    ({"time_budget_minutes": 10**9}, "time_budget_minutes: Input should be less than or equal "
                                     "to 14400"),
    ({"time_budget_minutes": float("inf")}, "time_budget_minutes: Input should be a finite"),
    ({"iteration_limit": 10**6}, "iteration_limit: Input should be less than or equal to 1000"),
    ({"min_effect": float("nan")}, "min_effect: Input should be a finite number"),
    ({"workers": 0}, "workers: Input should be greater than or equal to 1"),
    ({"sweep": {"trials": 0}}, "sweep.trials: Input should be greater than or equal to 1"),
    ({"probes": ["lr", "speed"]}, "probes: unknown probe 'speed' (allowed: lr, batch, trials)"),
    ({"sweep": {"method": "annealing"}}, "method"),
    ({"sweep": {"space": "nowhere.yaml"}}, "sweep.space: file not found"),
    ({"name": "demo\n"}, "name: String should match pattern"),
    ({"name": "de\x07mo"}, "name: String should match pattern"),
])
def test_bounds(home: Path, cli: CLI, fields: dict, expected: str) -> None:
    write_project(home / "proj", **fields)
    err = _refused(home, cli, "run", "proj/project.yaml")
    assert expected in err


# rule (issue 17): a project name given on the command line with a trailing newline or a
# control character is refused (re.match with `$` would have let "demo\n" through)
@pytest.mark.parametrize("name", ["demo\n", "demo\r", "de\tmo", "demo\x00"])
def test_names_with_control_characters(home: Path, cli: CLI, name: str) -> None:
    err = _refused(home, cli, "init", name, "--config", "proj/project.yaml")
    assert "is not allowed" in err


# rule (acceptance): `init` checks the baseline config against the trainer's config model, so
# a typo (`momentun`) fails at init, naming the file and the field; `run` with the same typo
# leaves no project folder behind
def test_a_typo_in_the_baseline_fails_at_init(home: Path, cli: CLI) -> None:
    write_project(home / "proj", baseline=tiny_config(optimizer={"name": "sgd", "lr": 0.1,
                                                                 "momentun": 0.9}))
    baseline = home / "proj" / "baseline.yaml"
    for argv in (["init", "demo", "--config", "proj/project.yaml"],
                 ["run", "proj/project.yaml"]):
        err = _refused(home, cli, *argv)
        assert f"{baseline}: optimizer.momentun: unknown field" in err
    assert not (home / "runs").exists() or list((home / "runs").iterdir()) == []


# rule: a plug-in the baseline names (dataset, model) or the project names (trainer) must
# import and fit its contract at init, not hours later
@pytest.mark.parametrize(("where", "spec"), [
    ("trainer", "no_such_module_anywhere:fit"),
    ("model", "no_such_module_anywhere:net"),
    ("dataset", "no_such_module_anywhere:data"),
])
def test_plugins_resolve_at_init(home: Path, cli: CLI, where: str, spec: str) -> None:
    if where == "trainer":
        write_project(home / "proj", trainer=spec)
    elif where == "model":
        write_project(home / "proj", baseline=tiny_config(model={"name": spec}))
    else:
        write_project(home / "proj", baseline=tiny_config(data={"dataset": spec}))
    err = _refused(home, cli, "init", "demo", "--config", "proj/project.yaml")
    assert f"{spec!r}: cannot import 'no_such_module_anywhere'" in err


# rule: a sweep's space given in the project file must fit the baseline at init
def test_a_project_space_must_fit_the_baseline(home: Path, cli: CLI) -> None:
    (home / "proj").mkdir(exist_ok=True)
    (home / "proj" / "space.yaml").write_text(
        "optimizer.lrr: {type: float, low: 0.001, high: 0.1, log: true}\n")
    write_project(home / "proj", strategy="sweep", sweep={"space": "space.yaml"})
    err = _refused(home, cli, "init", "demo", "--config", "proj/project.yaml")
    assert "lrr" in err
