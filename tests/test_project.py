"""workflow.project: the project file's rules, and how its errors read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflow.errors import ConfigError, UsageError
from workflow.project import ProjectConfig, check_name, load_project
from workflow.resources import shipped_dir


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "baseline.yaml").write_text("name: b\n")
    path = tmp_path / "project.yaml"
    path.write_text(text)
    return path


# rule: the shipped quickstart project is valid, names the shipped baseline, and targets 0.97
def test_quickstart_is_valid() -> None:
    config = load_project(shipped_dir("configs") / "quickstart.yaml", require_baseline=False)
    assert config.name == "quickstart"
    assert config.baseline == (shipped_dir("configs") / "quickstart_baseline.yaml").resolve()
    assert (config.target.metric, config.target.direction, config.target.goal) == (
        "val_accuracy",
        "maximize",
        0.97,
    )


# rule: a minimal project gets the documented defaults (five seeds, 1 point, alpha 0.05, ...)
def test_defaults(tmp_path: Path) -> None:
    config = load_project(_write(tmp_path, "name: p\nbaseline: baseline.yaml\n"))
    assert config.seeds == [0, 1, 2, 3, 4]
    assert config.fresh_seeds == [100, 101, 102, 103, 104]
    assert config.min_effect == 0.01 and config.alpha == 0.05
    assert config.iteration_limit == 3 and config.time_budget_minutes is None
    assert config.strategy == "auto" and config.trainer == "builtin"
    assert config.target.metric == "val_accuracy" and config.target.direction == "maximize"


# rule: the baseline path is relative to the project file's folder, and made absolute
def test_baseline_is_resolved_next_to_the_project_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "name: p\nbaseline: baseline.yaml\n")
    monkeypatch.chdir("/")
    config = load_project(path)
    assert config.baseline == (tmp_path / "baseline.yaml").resolve()
    assert config.baseline.is_absolute()


# rule: a baseline config that does not exist is an error naming the project file and the path
def test_missing_baseline(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: p\nbaseline: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"project\.yaml: baseline: file not found: .*nowhere"):
        load_project(path)


# rule: a loss is minimized unless the file says otherwise; any other metric is maximized
def test_direction_follows_the_metric(tmp_path: Path) -> None:
    loss = load_project(_write(tmp_path, "name: p\nbaseline: baseline.yaml\n"
                                         "target: {metric: val_loss}\n"))
    assert loss.target.direction == "minimize"
    rate = load_project(_write(tmp_path, "name: p\nbaseline: baseline.yaml\n"
                                         "target: {metric: val_macro_f1}\n"))
    assert rate.target.direction == "maximize"


# rule: every invalid value is one line naming the file, the field and what is allowed
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("seeds: [1, 2]", r"seeds: .*at least 3"),
        ("seeds: [1, 2, 2]", r"seeds: .*unique.*\[2\]"),
        ("seeds: [0, 1, 4]\nfresh_seeds: [4, 5, 6]", r"fresh_seeds must not repeat seeds.*\[4\]"),
        ("alpha: 1.5", r"alpha: .*less than 1"),
        ("alpha: 0", r"alpha: .*greater than 0"),
        ("iteration_limit: 0", r"iteration_limit: .*greater than or equal to 1"),
        ("time_budget_minutes: 0", r"time_budget_minutes: .*greater than 0"),
        ("min_effect: -0.01", r"min_effect: .*greater than or equal to 0"),
        ("strategy: random", r"strategy: .*'auto', 'targeted', 'sweep' or 'iterative'"),
        ("trainer: mymodule", r"trainer: .*'builtin' or 'module:function'"),
        ("target: {direction: up}", r"target\.direction: .*'maximize' or 'minimize'"),
        ("target: {metrc: val_loss}", r"target\.metrc: unknown field \(allowed: metric, "),
        ("target: {metric: val_acuracy}", r"target\.metric: .*no metric 'val_acuracy' "
         r"\(allowed: val_loss, val_accuracy"),
        ("target: {metric: val_loss, direction: maximize}",
         r"target: val_loss is a loss, so lower is better: direction must be 'minimize'"),
        ("seed: [1, 2, 3]", r"seed: unknown field \(allowed: name, baseline, target, seeds"),
    ],
)
def test_invalid_values(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, f"name: p\nbaseline: baseline.yaml\n{body}\n")
    with pytest.raises(ConfigError) as info:
        load_project(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert re.search(expected, message), message


# rule: the project name becomes a folder: only a plain slug is accepted
@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65, "has space"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        check_name(name)
    with pytest.raises(ValueError):
        ProjectConfig.model_validate({"name": name, "baseline": "b.yaml"})


# rule: a user's trainer is written as module:function and is not imported when loading
def test_trainer_spec_is_not_imported(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: p\nbaseline: baseline.yaml\ntrainer: no_such_module:fit\n")
    assert load_project(path).trainer == "no_such_module:fit"


# rule: every shipped project file is valid, phase settings included: the sweep example's
# space loads and fits its baseline (what `init` checks)
def test_shipped_projects_pass_the_init_checks() -> None:
    from phases.settings import check_project

    folder = shipped_dir("configs")
    for name in ("quickstart.yaml", "overfit_project.yaml", "sweep_project.yaml"):
        config = load_project(folder / name)
        settings = check_project(config, source=name)
        if name == "sweep_project.yaml":
            assert settings.strategy == "sweep" and settings.probes == ("lr",)
            assert set(settings.space or {}) == {"model.name", "optimizer.lr"}
            assert dict(settings.sweep) == {"method": "bayesian", "pruner": "median",
                                            "trials": 12, "top_k": 2}


# rule: a command's flag overrides the project file's setting of the same name, for that
# command only
def test_flags_override_the_project_file(tmp_path: Path) -> None:
    from phases.settings import resolve

    path = _write(tmp_path, "name: p\nbaseline: baseline.yaml\nstrategy: sweep\nworkers: 2\n"
                            "probes: [lr]\nsweep: {method: random, trials: 5}\n")
    config = load_project(path)
    assert resolve(config).sweep == {"method": "random", "trials": 5}
    given = resolve(config, method="bayesian", workers=1, probes=[], strategy="targeted")
    assert given.sweep == {"method": "bayesian", "trials": 5}
    assert (given.workers, given.probes, given.strategy) == (1, (), "targeted")
    with pytest.raises(UsageError, match="--workers must be at least 1"):
        resolve(config, workers=0)
