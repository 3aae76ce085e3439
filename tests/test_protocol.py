"""The trainer protocol (workflow.protocol): resolved once from the project's `trainer:`,
checked at `init`, with the run-folder helper a user's trainer writes its runs through."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config
from workflow.cli import main
from workflow.errors import PluginError
from workflow.protocol import (
    Evaluation,
    Trainer,
    Tunable,
    resolve_trainer_protocol,
    tunable_keys,
    write_run,
)
from workflow.store import RUNS_ENV
from workflow.trainer.result import RunResult, RunStatus, read_history

FULL = '''
from workflow.protocol import Evaluation, Trainer, write_run

class Full(Trainer):
    task = "regression"
    tunable = {"optimizer.lr": (1e-4, 0.1), "model.kwargs.hidden": [8, 16]}

    def fit(self, config, seed, out_dir, *, report=None, should_stop=None):
        return write_run(out_dir, config, seed, [{"val_mse": 1.0}], monitor="val_mse")

    def evaluate(self, run_dir, split):
        return Evaluation([1.0], [1.5], {f"{split}_mse": 0.25})

class NoEvaluate:
    def fit(self, config, seed, out_dir, *, report=None, should_stop=None):
        pass

def fit(config, seed, out_dir, *, report=None, should_stop=None):
    pass

def evaluate(run_dir, split):
    return Evaluation([0], [0])

TASK = "classification"
TUNABLE = {"optimizer.lr": (0.001, 0.1)}
'''


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """proj/ holds a project file, a tiny baseline and a trainer module (not on sys.path)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "baseline.yaml").write_text(yaml.safe_dump(tiny_config()))
    module = f"user_trainer_{tmp_path.name.replace('-', '_')}"
    (proj / f"{module}.py").write_text(FULL)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the project folder is added per test
    return tmp_path / "proj" / module


def _project(home: Path, trainer: str) -> None:
    (home.parent / "project.yaml").write_text(yaml.safe_dump({
        "name": "demo", "baseline": "baseline.yaml", "trainer": f"{home.name}:{trainer}",
        "target": {"metric": "val_mse", "direction": "minimize"}}))


def _init(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["init", "demo", "--config", "proj/project.yaml"])
    return code, capsys.readouterr().err


# rule (acceptance): a user trainer lacking `evaluate` is refused at init: one line naming
# what is missing, exit 2, nothing created
def test_a_trainer_without_evaluate_is_refused_at_init(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(home, "NoEvaluate")
    code, err = _init(capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("phasegate: ")
    assert f"trainer '{home.name}:NoEvaluate' lacks evaluate" in err
    assert not (home.parent.parent / "runs" / "demo").exists()


# rule: a full trainer beside the project file is importable from the project's folder and
# accepted at init; its task and tunable keys are what it declares
def test_a_full_trainer_beside_the_project_is_accepted(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(home, "Full")
    code, err = _init(capsys)
    assert code == 0, err
    protocol = resolve_trainer_protocol(f"{home.name}:Full")
    assert protocol.task == "regression" and protocol.missing() == []
    assert tunable_keys(f"{home.name}:Full") == (
        Tunable("optimizer.lr", low=1e-4, high=0.1), Tunable("model.kwargs.hidden",
                                                             choices=(8, 16)))


# rule: a trainer in one file: `module:fit` with `evaluate`, TASK and TUNABLE beside it
def test_a_module_with_fit_and_evaluate_is_a_trainer(home: Path) -> None:
    sys.path.append(str(home.parent))
    protocol = resolve_trainer_protocol(f"{home.name}:fit")
    assert protocol.evaluate is not None and protocol.export is None
    assert [t.key for t in protocol.tunable or ()] == ["optimizer.lr"]


# rule: phasegate's own trainer is one implementation of the protocol; it honours every knob
def test_the_builtin_trainer_is_a_protocol() -> None:
    builtin = resolve_trainer_protocol("builtin")
    assert builtin.is_builtin and builtin.task == "classification"
    assert builtin.evaluate is not None and builtin.export is not None
    assert tunable_keys("builtin") is None


# rule: a bare fit function without evaluate is the train-only form: it trains, and Phase 5
# names what it lacks
def test_a_train_only_function_names_what_phase5_needs() -> None:
    protocol = resolve_trainer_protocol("tests.optimization.fake_trainer:fit")
    assert protocol.missing() == ["evaluate(run_dir, split)"]
    # it declares no tunable keys: every key is taken as honoured, as for the built-in
    assert tunable_keys("tests.optimization.fake_trainer:fit") is None


# rule: tunable ranges are (low, high) with low < high, or a non-empty list of choices
@pytest.mark.parametrize("given", [(0.1, 0.01), [], "lr", (1, "2")])
def test_bad_tunable_ranges_are_refused(given: object) -> None:
    with pytest.raises(PluginError, match="tunable 'optimizer.lr'"):
        Tunable.parse("optimizer.lr", given, source="trainer 'x:Y'")


# rule: an evaluation pairs its targets and predictions one to one
def test_an_evaluation_pairs_targets_and_predictions() -> None:
    with pytest.raises(PluginError, match="2 predictions for 1 targets"):
        Evaluation([1.0], [1.0, 2.0])


# rule: write_run turns history rows into phasegate's run folder, read back as written
def test_write_run_writes_the_run_folder(tmp_path: Path) -> None:
    rows = [{"train_loss": 2.0, "val_mse": 1.5}, {"train_loss": 1.0, "val_mse": 0.5},
            {"train_loss": 0.5, "val_mse": 0.7}]
    result = write_run(tmp_path / "run", {"lr": 0.1}, 3, rows, monitor="val_mse",
                       direction="minimize", wall_time_s=1.0)
    loaded = RunResult.load(tmp_path / "run")
    assert loaded.status is RunStatus.COMPLETED and loaded.best_epoch == 2
    assert loaded.best["val_mse"] == 0.5 and loaded == result
    assert read_history(tmp_path / "run" / "history.csv")[2] == {
        "epoch": 3, "train_loss": 0.5, "val_mse": 0.7}
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == {"lr": 0.1}


# rule: a run stopped by should_stop is pruned; a non-finite monitor at the end diverged
def test_write_run_statuses(tmp_path: Path) -> None:
    pruned = write_run(tmp_path / "a", {}, 0, [{"val_mse": 1.0}], monitor="val_mse",
                       stop_reason="pruned by the sweep")
    diverged = write_run(tmp_path / "b", {}, 0, [{"val_mse": 1.0}, {"val_mse": math.nan}],
                         monitor="val_mse")
    assert pruned.status is RunStatus.PRUNED and diverged.status is RunStatus.DIVERGED
    with pytest.raises(PluginError, match="no history row has the monitor 'val_mse'"):
        write_run(tmp_path / "c", {}, 0, [{"loss": 1.0}], monitor="val_mse")


# rule: Trainer is a small base: fit and evaluate are abstract, export is optional
def test_trainer_base_names_its_abstract_methods() -> None:
    assert Trainer.__abstractmethods__ == frozenset({"fit", "evaluate"})


# rule: a later command on the project (a new process, as `phasegate baseline NAME` is) imports
# the trainer beside the project file too: the CLI makes the project's folder importable
def test_later_commands_import_plugins_beside_the_project(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(home, "Full")
    assert _init(capsys)[0] == 0
    # what a fresh process would have: not the project's folder, not its module
    sys.path.remove(str(home.parent.resolve()))
    sys.modules.pop(home.name, None)
    resolve_trainer_protocol.cache_clear()
    code = main(["baseline", "demo"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert str(home.parent.resolve()) in sys.path


# rule: the best and last model files a trainer names are put where phasegate keeps them
# (checkpoints/best.pt, checkpoints/last.pt: Phase 4 copies them, Phase 5's look hashes them)
def test_write_run_places_the_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mine.bin").write_bytes(b"weights")
    result = write_run(tmp_path / "run", {}, 0, [{"val_mse": 1.0}], monitor="val_mse",
                       checkpoints={"best": tmp_path / "run" / "mine.bin"})
    assert result.checkpoints == {"best": str(tmp_path / "run" / "checkpoints" / "best.pt")}
    assert (tmp_path / "run" / "checkpoints" / "best.pt").read_bytes() == b"weights"
    with pytest.raises(PluginError, match="checkpoint 'last'.*is not a file"):
        write_run(tmp_path / "b", {}, 0, [{"val_mse": 1.0}], monitor="val_mse",
                  checkpoints={"last": tmp_path / "nothing.pt"})
