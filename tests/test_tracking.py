"""Tracking (workflow.tracking): every run of a project logged to MLflow (a local `file:`
store here) and TensorBoard (its event files read back), each run once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import tiny_config
from workflow.project import load_project
from workflow.protocol import write_run
from workflow.store import Store
from workflow.tracking import LEDGER, log_runs, logged_counts

ROWS = [{"train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5},
        {"train_loss": 0.5, "val_loss": 0.6, "val_accuracy": 0.7}]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A project asking for both trackers, with three baseline runs and one final run."""
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(tiny_config()))
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "tracked", "baseline": "baseline.yaml",
        "tracking": {"mlflow": "file:./mlruns", "tensorboard": "tb"}}))
    store = Store.create(load_project(tmp_path / "project.yaml"), tmp_path / "runs",
                         start="baseline", project_dir=tmp_path, who="test")
    for seed in (0, 1, 2):
        write_run(store.run_dir / "baseline" / f"seed-{seed}", {"optimizer": {"lr": 0.01}},
                  seed, ROWS, monitor="val_accuracy")
    write_run(store.run_dir / "phase5" / "final" / "seed-1", {"optimizer": {"lr": 0.02}}, 1,
              ROWS, monitor="val_accuracy")
    return store


# rule (acceptance): MLflow logging, tested against a local file store: params, per-epoch
# metrics, and the phase and arm as tags
def test_runs_are_logged_to_a_local_mlflow_store(store: Store, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    assert store.project.tracking.mlflow == (tmp_path / "mlruns").resolve().as_uri()
    logged = log_runs(store)
    assert len([x for x in logged if x.startswith("mlflow:")]) == 4
    client = MlflowClient(tracking_uri=store.project.tracking.mlflow)
    experiment = client.get_experiment_by_name("tracked")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    by_name = {r.info.run_name: r for r in runs}
    assert set(by_name) == {"baseline/seed-0", "baseline/seed-1", "baseline/seed-2",
                            "phase5/final/seed-1"}
    final = by_name["phase5/final/seed-1"]
    assert final.data.params["optimizer.lr"] == "0.02"
    assert final.data.tags["phasegate.phase"] == "phase5"
    assert final.data.tags["phasegate.arm"] == "phase5/final"
    history = client.get_metric_history(final.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.7)]


# rule (acceptance): TensorBoard logging, tested by reading the event files back
def test_runs_are_logged_to_tensorboard(store: Store, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_runs(store)
    folder = tmp_path / "tb" / "tracked" / "baseline" / "seed-2"
    events = EventAccumulator(str(folder))
    events.Reload()
    scalars = events.Scalars("val_loss")
    assert [e.step for e in scalars] == [1, 2]
    assert all(math.isclose(e.value, r["val_loss"], rel_tol=1e-6)
               for e, r in zip(scalars, ROWS, strict=True))


# rule: a run is logged once: a second call logs only runs that are new since
def test_each_run_is_logged_once(store: Store) -> None:
    assert len(log_runs(store)) == 8
    assert log_runs(store) == []
    write_run(store.run_dir / "phase5" / "final" / "seed-2", {}, 2, ROWS,
              monitor="val_accuracy")
    assert sorted(log_runs(store)) == ["mlflow:phase5/final/seed-2",
                                       "tensorboard:phase5/final/seed-2"]
    assert (store.run_dir / LEDGER).is_file()


# rule: without a tracking setting nothing is logged and nothing is imported
def test_no_tracking_logs_nothing(store: Store) -> None:
    from workflow.tracking import Tracking

    assert log_runs(store, Tracking()) == []
    assert not (store.run_dir / LEDGER).exists()


# rule: a tracker the project asks for but that is not installed is one line at init
def test_a_missing_tracker_is_refused_when_the_project_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from workflow.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(tiny_config()))
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "p", "baseline": "baseline.yaml", "tracking": {"mlflow": "file:./mlruns"}}))
    with pytest.raises(ConfigError, match=r"tracking.mlflow: the mlflow package is not "
                                          r"installed \(pip install 'phasegate\[mlflow\]'\)"):
        load_project(tmp_path / "project.yaml")


# rule (issue 13): a run is logged while it trains: each epoch as it comes (an MLflow run
# opened at the first epoch, a TensorBoard writer), then params and tags when it finishes,
# once: the finished run is the same MLflow run, not a second one
def test_a_run_is_logged_epoch_by_epoch_while_it_trains(store: Store, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from workflow.tracking import epoch_done, run_done

    folder = store.run_dir / "phase4" / "attempt-1" / "seed-0"
    epoch_done(folder, 1, ROWS[0])
    client = MlflowClient(tracking_uri=store.project.tracking.mlflow)
    experiment = client.get_experiment_by_name("tracked")
    assert experiment is not None

    def runs() -> dict[str, Any]:
        return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}

    live = runs()["phase4/attempt-1/seed-0"]
    assert live.info.status == "RUNNING" and not folder.exists()
    assert [(m.step, m.value) for m in client.get_metric_history(
        live.info.run_id, "val_accuracy")] == [(1, 0.5)]
    events = EventAccumulator(str(tmp_path / "tb" / "tracked" / "phase4" / "attempt-1" / "seed-0"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_loss")] == [1]

    epoch_done(folder, 2, ROWS[1])
    write_run(folder, {"optimizer": {"lr": 0.03}}, 0, ROWS, monitor="val_accuracy")
    run_done(folder)
    finished = runs()
    assert len(finished) == 5  # the fixture's four runs, logged now too, and this one once
    done = finished["phase4/attempt-1/seed-0"]
    assert done.info.run_id == live.info.run_id and done.info.status == "FINISHED"
    assert done.data.params["optimizer.lr"] == "0.03"
    assert done.data.tags["phasegate.status"] == "completed"
    assert [(m.step, m.value) for m in client.get_metric_history(
        done.info.run_id, "val_accuracy")] == [(1, 0.5), (2, 0.7)]
    assert log_runs(store) == []
    assert logged_counts(store) == {"mlflow": 5, "tensorboard": 5}


# rule (issue 13): the commands that train log their runs without `finalize` or `run`:
# `baseline` its seeds as they finish, `optimize` its attempt's seeds, tagged with the phase
# and, once it is taken, the decision
def test_baseline_and_optimize_log_without_finalize(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from tests.optimization.helpers import FAKE_TRAINER
    from workflow.cli import main

    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(tiny_config(training={"epochs": 8})))
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "walked", "baseline": "baseline.yaml", "trainer": FAKE_TRAINER,
        "seeds": [0, 1, 2], "fresh_seeds": [100, 101, 102], "target": {"goal": 0.6},
        "tracking": {"mlflow": "file:./mlruns", "tensorboard": "tb"}}))
    store = Store.create(load_project(tmp_path / "project.yaml"), tmp_path / "runs",
                         start="baseline", project_dir=tmp_path, who="test")
    runs = str(tmp_path / "runs")
    client = MlflowClient(tracking_uri=store.project.tracking.mlflow)

    def logged() -> dict[str, dict[str, str]]:
        experiment = client.get_experiment_by_name("walked")
        found = client.search_runs([experiment.experiment_id]) if experiment else []
        return {r.info.run_name: r.data.tags for r in found}

    assert main(["baseline", "walked", "--runs", runs]) == 0
    assert set(logged()) == {f"baseline/seed-{s}" for s in (0, 1, 2)}
    assert main(["diagnose", "walked", "--runs", runs]) == 0
    assert main(["optimize", "walked", "--strategy", "targeted", "--runs", runs]) in (0, 1)
    tags = logged()
    attempt = {name: t for name, t in tags.items() if name.startswith("phase4/attempt-1/")}
    assert sorted(attempt) == [f"phase4/attempt-1/seed-{s}" for s in (0, 1, 2)]
    decision = store.get("phase4.attempts")[0]["decision"]
    assert decision == "A"  # the goal met at the first attempt: taken after its seeds trained
    assert all(t["phasegate.phase"] == "phase4" and t["phasegate.decision"] == decision
               for t in attempt.values())
    assert (tmp_path / "tb" / "walked" / "phase4" / "attempt-1" / "seed-2").is_dir()
    assert store.current != "finalized" and not (store.run_dir / "phase5").exists()


# rule: a tracker that fails during an epoch stops logging that run live, and the run is
# logged when it finishes into the MLflow run that holds its first epochs: one run for it,
# finished with every epoch, not a second one beside a first left RUNNING
def test_a_live_failure_leaves_one_run(store: Store, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow.tracking import MlflowClient

    from workflow import tracking

    folder = store.run_dir / "phase4" / "attempt-1" / "seed-0"
    tracking.epoch_done(folder, 1, ROWS[0])
    metrics = tracking._MLflow._metrics
    failed = []

    def flaky(self: Any, client: Any, run_id: str, step: int, row: Any) -> None:
        if step == 2 and not failed:
            failed.append(step)
            raise ConnectionError("tracking server unreachable")
        metrics(self, client, run_id, step, row)

    monkeypatch.setattr(tracking._MLflow, "_metrics", flaky)
    tracking.epoch_done(folder, 2, ROWS[1])  # no raise: a tracker never stops the training
    assert "ConnectionError" in capsys.readouterr().err
    write_run(folder, {"optimizer": {"lr": 0.03}}, 0, ROWS, monitor="val_accuracy")
    tracking.run_done(folder)
    client = MlflowClient(tracking_uri=store.project.tracking.mlflow)
    experiment = client.get_experiment_by_name("tracked")
    assert experiment is not None
    mine = [r for r in client.search_runs([experiment.experiment_id])
            if r.info.run_name == "phase4/attempt-1/seed-0"]
    assert [r.info.status for r in mine] == ["FINISHED"]
    assert [(m.step, m.value) for m in client.get_metric_history(
        mine[0].info.run_id, "val_accuracy")] == [(1, 0.5), (2, 0.7)]


# rule: a tracker that fails while a finished run is logged leaves that run to the next try
# (the command's end), which finishes the same MLflow run, not a second one
def test_a_failed_finish_is_retried_into_the_same_run(store: Store,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from workflow import tracking

    folder = store.run_dir / "phase4" / "attempt-1" / "seed-0"
    tracking.epoch_done(folder, 1, ROWS[0])
    write_run(folder, {"optimizer": {"lr": 0.03}}, 0, ROWS, monitor="val_accuracy")
    metrics = tracking._MLflow._metrics

    def down(self: Any, client: Any, run_id: str, step: int, row: Any) -> None:
        raise ConnectionError("tracking server unreachable")

    monkeypatch.setattr(tracking._MLflow, "_metrics", down)
    tracking.run_done(folder)  # no raise
    monkeypatch.setattr(tracking._MLflow, "_metrics", metrics)
    log_runs(store)  # the command's end
    client = MlflowClient(tracking_uri=store.project.tracking.mlflow)
    experiment = client.get_experiment_by_name("tracked")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == [
        "baseline/seed-0", "baseline/seed-1", "baseline/seed-2", "phase4/attempt-1/seed-0",
        "phase5/final/seed-1"]
    assert {r.info.status for r in runs} == {"FINISHED"}


# rule: a tracker down when a command ends is one line on stderr, not a failed command (its
# work is saved); the next command's log_runs logs what was left, each run once
def test_a_tracker_down_at_the_end_is_one_line_and_the_next_command_logs(
        store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    from workflow import tracking

    finish = tracking._MLflow.finish

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("tracking server unreachable")

    monkeypatch.setattr(tracking._MLflow, "finish", down)
    assert not [r for r in log_runs(store) if r.startswith("mlflow:")]  # no raise
    said = [line for line in capsys.readouterr().err.splitlines() if "tracking mlflow" in line]
    assert len(said) == 1 and "logged by the next command" in said[0]
    monkeypatch.setattr(tracking._MLflow, "finish", finish)
    logged = [r for r in log_runs(store) if r.startswith("mlflow:")]
    assert logged and not [r for r in log_runs(store) if r.startswith("mlflow:")]
    client = MlflowClient(tracking_uri=store.project.tracking.mlflow)
    experiment = client.get_experiment_by_name("tracked")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    names = [r.info.run_name for r in runs]
    assert len(names) == len(set(names)) == len(logged)
    assert {r.info.status for r in runs} == {"FINISHED"}
