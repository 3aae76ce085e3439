"""Tracking (workflow.tracking): every run of a project logged to MLflow (a local `file:`
store here) and TensorBoard (its event files read back), each run once."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from tests.conftest import tiny_config
from workflow.project import load_project
from workflow.protocol import write_run
from workflow.store import Store
from workflow.tracking import LEDGER, log_runs

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
