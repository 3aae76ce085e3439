"""A sweep worker runs the trainer and base config given on its own host; the study's database
gives only trial parameters (issue 17's trust model, `phases.optimization.sweep.trust`).

Each test plants in the study what someone with write access to a shared database could,
and checks the worker refuses it in one line, before any trial runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from optuna.trial import TrialState

from phases.optimization.sweep import SweepSettings, parse_space
from phases.optimization.sweep import study as st
from phases.optimization.sweep.run import prepare_study
from phases.optimization.sweep.trust import LocalRun
from phases.optimization.sweep.worker import work
from tests.optimization.sweep.conftest import tiny_base
from workflow.errors import ConfigError

SLOW = "tests.optimization.sweep.trainers:slow_fit"
SPACE = {"optimizer.lr": {"type": "float", "low": 0.01, "high": 0.1}}


def _study(tmp_path: Path, trainer: str = "builtin", **settings: Any) -> tuple[str, Any]:
    space = parse_space(SPACE, source="s")
    url, study, _ = prepare_study(
        tiny_base(epochs=1), space, tmp_path / "sweep",
        SweepSettings(method="random", trials=3, study_name="p", **settings), trainer=trainer,
    )
    return url, study


def _tamper(study: Any, **changes: Any) -> None:
    spec = dict(study.user_attrs[st.SPEC_ATTR])
    spec.update(changes)
    study.set_user_attr(st.SPEC_ATTR, spec)


def _refused(url: str, match: str, **kwargs: Any) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        work(url, "p", max_trials=1, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def _local(trainer: str = "builtin", **overrides: Any) -> LocalRun:
    base = tiny_base(epochs=1)
    if overrides:
        base = base.with_changes(overrides)
    return LocalRun(base, trainer, "proj/project.yaml")


def _completed(study: Any) -> int:
    return len(study.get_trials(states=(TrialState.COMPLETE,)))


# rule: without a local project, a study that names code (a trainer, a plug-in in its base
# config, a sampler class) is refused, naming it
def test_a_worker_given_nothing_refuses_a_study_that_names_code(tmp_path: Path) -> None:
    url, study = _study(tmp_path, trainer=SLOW)
    _refused(url, rf"study p names code to run \(trainer '{SLOW}'\).*project file")
    base = yaml.safe_load(study.user_attrs[st.SPEC_ATTR]["base_config"])
    base["data"]["dataset"] = "evil.module:load"
    _tamper(study, trainer="builtin", base_config=yaml.safe_dump(base))
    _refused(url, r"names code to run \(dataset 'evil.module:load'\)")
    assert study.get_trials() == []


# rule: a study that names no code may still be joined with nothing local (as before)
def test_a_worker_given_nothing_joins_a_study_of_builtins(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    assert work(url, "p", max_trials=1).trials_run == 1
    assert _completed(study) == 1


# rule: given a local project, the study's stored trainer must be the local one
def test_a_stored_trainer_that_differs_is_refused(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    _tamper(study, trainer="os:system")
    message = _refused(url, r"its trainer 'os:system' is not proj/project.yaml's 'builtin'",
                       local=_local())
    assert "own host" in message
    assert study.get_trials() == []


# rule: given a local project, a stored base config that differs is refused, naming the fields
def test_a_stored_base_config_that_differs_is_refused(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    base = yaml.safe_load(study.user_attrs[st.SPEC_ATTR]["base_config"])
    base["model"]["widths"] = [512]
    base["data"]["dataset"] = "evil.module:load"
    _tamper(study, base_config=yaml.safe_dump(base))
    _refused(url, r"base config differs from proj/project.yaml's in data.dataset, model.widths",
             local=_local())
    assert study.get_trials() == []


# rule: a sampler or pruner class stored in the study runs only if this host named it
def test_a_stored_sampler_class_not_given_here_is_refused(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    _tamper(study, method="tests.optimization.sweep.extensions:SeededRandomSampler")
    _refused(url, r"sampler or pruner .*SeededRandomSampler was not given on this host",
             local=_local())


# rule: an alias bomb planted as the stored base config is one line, not a hang
def test_an_alias_bomb_in_the_stored_base_config_is_refused(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    bomb = 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 12):
        bomb += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
    _tamper(study, base_config=bomb)
    _refused(url, r"study p: base config: refused .*aliases expand", local=_local())


# rule: a worker whose local files match runs the study's trials with the local trainer,
# and the seed and host paths may differ (each host resolves its own)
def test_a_worker_with_matching_local_files_runs_trials(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    local = _local(seed=7)
    assert work(url, "p", max_trials=1, local=local).trials_run == 1
    assert _completed(study) == 1


# rule: LocalRun reads the trainer and the baseline config from the project file on this host
def test_local_run_from_a_project_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_base(epochs=1).model_dump(mode="json")))
    (tmp_path / "project.yaml").write_text("name: p\nbaseline: base.yaml\n")
    local = LocalRun.from_project(tmp_path / "project.yaml")
    assert local.trainer == "builtin" and local.base == tiny_base(epochs=1)
    url, study = _study(tmp_path)
    assert work(url, "p", max_trials=1, local=local).trials_run == 1


# rule: the trial folder the study names is used only where it already is a folder on this
# host; a worker never creates a path the database chose
def test_a_stored_trial_folder_is_never_created(tmp_path: Path) -> None:
    url, study = _study(tmp_path)
    planted = tmp_path / "elsewhere" / "deep"
    _tamper(study, trial_root=str(planted))
    _refused(url, r"its trial folder .*elsewhere/deep' is not a folder on this host; give one "
                  r"with --out DIR")
    assert not (tmp_path / "elsewhere").exists()
    assert work(url, "p", max_trials=1, trial_root=tmp_path / "mine").trials_run == 1
    assert (tmp_path / "mine" / "trial-0").is_dir()
