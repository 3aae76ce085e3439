"""Optional tracking: every run of a project logged to MLflow and/or TensorBoard.

A project file asks for it:

```yaml
tracking:
  mlflow: file:./mlruns        # any MLflow tracking URI (the skinny client: pip install
                               # 'phasegate[mlflow]'); a relative file: path is the project's
  tensorboard: tb              # a log folder, relative to the project file
                               # (pip install 'phasegate[tensorboard]')
  experiment: my-experiment    # MLflow's experiment (default: the project's name)
```

`log_runs(store)` logs each finished run folder of the project once (the
baseline's seeds, each Phase 4 attempt's and sweep trial's, Phase 5's final
seeds): its config as params, every numeric column of its history per epoch,
and as tags the project, the phase, the arm, the seed, the run's status and,
for a Phase 4 attempt, the decision taken on it. What was logged is kept in
`tracking.json` in the run directory, so a second call logs only new runs.
`phasegate run` and `phasegate finalize` call it when they end, whatever state
they stop in (a run stopped at a gate logs what it trained so far).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflow.errors import ConfigError
from workflow.io import atomic_write_json, read_json
from workflow.safe_yaml import read_yaml
from workflow.trainer.result import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, read_history

__all__ = ["LEDGER", "Tracking", "TrackedRun", "log_runs", "tracked_runs"]

LEDGER = "tracking.json"
_ATTEMPT = re.compile(r"attempt-(\d+)")


class Tracking(BaseModel):
    """`tracking:` of a project file: where every run is logged (nothing when both are unset)."""

    model_config = ConfigDict(extra="forbid")

    mlflow: str | None = Field(default=None, min_length=1)  # an MLflow tracking URI
    tensorboard: Path | None = None  # a TensorBoard log folder
    experiment: str | None = Field(default=None, min_length=1)

    @property
    def enabled(self) -> bool:
        return self.mlflow is not None or self.tensorboard is not None

    def resolved(self, folder: Path) -> Tracking:
        """Relative paths (a `file:` URI's, the log folder) made absolute against `folder`."""
        update: dict[str, Any] = {}
        if self.tensorboard is not None and not self.tensorboard.is_absolute():
            update["tensorboard"] = (folder / self.tensorboard).resolve()
        uri = self.mlflow
        if uri is not None and uri.startswith("file:") and not uri.startswith("file:/"):
            update["mlflow"] = (folder / uri.removeprefix("file:")).resolve().as_uri()
        return self.model_copy(update=update)


class TrackedRun(BaseModel):
    """One finished run folder and what it is logged with."""

    model_config = ConfigDict(frozen=True)

    path: str  # relative to the run directory
    phase: str
    arm: str
    seed: int
    tags: dict[str, str]


def tracked_runs(store: Any) -> Iterator[TrackedRun]:
    """Every finished run folder of the project (a `metrics.json` beside a `history.csv`)."""
    from workflow.facts import read_facts

    decisions = {a.attempt: a.decision for a in read_facts(store).phase4.attempts}
    run_dir: Path = store.run_dir
    for metrics in sorted(run_dir.rglob(METRICS_FILE)):
        folder = metrics.parent
        if not (folder / HISTORY_FILE).is_file() or any(p.startswith(".") for p in folder.parts):
            continue
        relative = folder.relative_to(run_dir).as_posix()
        top = relative.split("/")[0]
        if top not in ("baseline", "phase4", "phase5"):
            continue
        phase = {"baseline": "baseline", "phase4": "phase4", "phase5": "phase5"}[top]
        seed = int(read_json(metrics).get("seed", 0))
        arm = folder.parent.relative_to(run_dir).as_posix()
        tags = {"phasegate.project": store.name, "phasegate.phase": phase,
                "phasegate.arm": arm, "phasegate.seed": str(seed),
                "phasegate.status": str(read_json(metrics).get("status", ""))}
        attempt = _ATTEMPT.search(relative)
        if attempt and int(attempt.group(1)) in decisions:
            tags["phasegate.decision"] = str(decisions[int(attempt.group(1))])
        yield TrackedRun(path=relative, phase=phase, arm=arm, seed=seed, tags=tags)


def log_runs(store: Any, tracking: Tracking | None = None) -> list[str]:
    """Log every finished run not logged before (see the module docstring); the runs logged."""
    tracking = tracking or store.project.tracking
    if not tracking.enabled:
        return []
    ledger_path = store.run_dir / LEDGER
    ledger: dict[str, list[str]] = read_json(ledger_path) if ledger_path.is_file() else {}
    logged = []
    for backend, log in (("mlflow", _mlflow), ("tensorboard", _tensorboard)):
        if getattr(tracking, backend) is None:
            continue
        done = set(ledger.get(backend, []))
        for run in tracked_runs(store):
            if run.path in done:
                continue
            log(tracking, store, run)
            done.add(run.path)
            logged.append(f"{backend}:{run.path}")
            ledger[backend] = sorted(done)
            atomic_write_json(ledger_path, ledger)  # after each run: a kill logs none twice
    return logged


def _params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_params(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]  # MLflow's limit on a param's value
    return flat


def _numeric(row: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if k != "epoch" and isinstance(v, int | float)}


def _mlflow(tracking: Tracking, store: Any, run: TrackedRun) -> None:
    try:
        import mlflow
    except ImportError:
        raise ConfigError("tracking.mlflow needs the MLflow client: "
                          "pip install 'phasegate[mlflow]'") from None
    folder = store.run_dir / run.path
    if str(tracking.mlflow).startswith("file:"):
        # MLflow 3 keeps its file store but asks for consent: the project file named one
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    assert tracking.mlflow is not None
    mlflow.set_tracking_uri(tracking.mlflow)
    mlflow.set_experiment(tracking.experiment or store.name)
    with mlflow.start_run(run_name=f"{run.arm}/seed-{run.seed}"):
        config = read_yaml(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else {}
        if isinstance(config, Mapping):
            mlflow.log_params(_params(config))
        for row in read_history(folder / HISTORY_FILE):
            step = int(row.get("epoch", 0))
            mlflow.log_metrics(_numeric(row), step=step)
        mlflow.set_tags(run.tags)


def _tensorboard(tracking: Tracking, store: Any, run: TrackedRun) -> None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("tracking.tensorboard needs TensorBoard: "
                          "pip install 'phasegate[tensorboard]'") from None
    assert tracking.tensorboard is not None
    folder = store.run_dir / run.path
    writer = SummaryWriter(log_dir=str(tracking.tensorboard / store.name / run.path))
    try:
        for row in read_history(folder / HISTORY_FILE):
            step = int(row.get("epoch", 0))
            for name, value in _numeric(row).items():
                writer.add_scalar(name, value, step)
        writer.add_text("phasegate", "  \n".join(f"{k}: {v}" for k, v in run.tags.items()))
    finally:
        writer.close()
