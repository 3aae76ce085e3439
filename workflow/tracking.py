"""Optional tracking: every run of a project logged to MLflow and/or TensorBoard, live.

A project file asks for it:

```yaml
tracking:
  mlflow: file:./mlruns        # any MLflow tracking URI (the skinny client: pip install
                               # 'phasegate[mlflow]'); a relative file: path is the project's
  tensorboard: tb              # a log folder, relative to the project file
                               # (pip install 'phasegate[tensorboard]')
  experiment: my-experiment    # MLflow's experiment (default: the project's name)
```

Every run folder of the project (the baseline's seeds, Phase 3's trial runs,
each Phase 4 attempt's and sweep trial's, Phase 5's final seeds) is logged once:
its config as params, every numeric column of its history per epoch, and as
tags the project, the phase, the arm, the seed, the run's status and, for a
Phase 4 attempt, the decision taken on it.

It happens while a command trains, whichever command it is (`baseline`,
`diagnose`, `optimize`, `finalize`, `run`): `workflow.arms` reports each epoch
(`epoch_done`, also for seeds trained in pool workers, whose epochs reach the
parent) and each finished run (`run_done`). An epoch is logged as it comes (an
MLflow run, a TensorBoard writer, opened at the run's first epoch); the finished
run gets its params and tags and is closed. Each command also calls `log_runs`
when it ends: it logs whatever was not logged live (a sweep trial, a run whose
tracker failed mid-way) and tags the runs of an attempt with the decision taken
after they finished. `tracking.json` in the run directory keeps what was
logged (and each MLflow run's id), so nothing is logged twice. A tracker that
fails while training says so in one line and leaves the run to the command's
end; the training goes on.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflow.errors import ConfigError
from workflow.io import atomic_write_json, read_json
from workflow.safe_yaml import read_yaml
from workflow.trainer.result import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, read_history

__all__ = ["LEDGER", "TrackedRun", "Tracking", "epoch_done", "log_runs", "logged_counts",
           "run_done", "tracked_runs"]

LEDGER = "tracking.json"
PHASES = ("baseline", "phase3", "phase4", "phase5")  # the run directory's folders of runs
BACKENDS = ("mlflow", "tensorboard")
_ATTEMPT = re.compile(r"attempt-(\d+)")
_DECISION = "phasegate.decision"


class Tracking(BaseModel):
    """`tracking:` of a project file: where every run is logged (nothing when both are unset)."""

    model_config = ConfigDict(extra="forbid")

    mlflow: str | None = Field(default=None, min_length=1)  # an MLflow tracking URI
    tensorboard: Path | None = None  # a TensorBoard log folder
    experiment: str | None = Field(default=None, min_length=1)

    @property
    def enabled(self) -> bool:
        return self.mlflow is not None or self.tensorboard is not None

    @property
    def backends(self) -> list[str]:
        return [name for name in BACKENDS if getattr(self, name) is not None]

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
    """One run folder of a project and what it is logged with."""

    model_config = ConfigDict(frozen=True)

    path: str  # relative to the run directory
    phase: str
    arm: str
    seed: int
    tags: dict[str, str]


def tracked_runs(store: Any) -> Iterator[TrackedRun]:
    """Every finished run folder of the project (a `metrics.json` beside a `history.csv`)."""
    run_dir: Path = store.run_dir
    decisions = _decisions(store)
    for metrics in sorted(run_dir.rglob(METRICS_FILE)):
        folder = metrics.parent
        if not (folder / HISTORY_FILE).is_file() or any(p.startswith(".") for p in folder.parts):
            continue
        run = _run(store.name, run_dir, folder, decisions)
        if run is not None:
            yield run.model_copy(update={"tags": {
                **run.tags, "phasegate.status": str(read_json(metrics).get("status", ""))}})


def _run(project: str, run_dir: Path, folder: Path, decisions: Mapping[int, str]
         ) -> TrackedRun | None:
    """The run folder `folder` (finished or still training) as it is logged; None outside the
    phases' folders of runs."""
    relative = folder.relative_to(run_dir).as_posix()
    phase = relative.split("/")[0]
    seed = re.fullmatch(r"seed-(\d+)", folder.name)
    if phase not in PHASES or seed is None:
        return None
    arm = folder.parent.relative_to(run_dir).as_posix()
    tags = {"phasegate.project": project, "phasegate.phase": phase, "phasegate.arm": arm,
            "phasegate.seed": seed.group(1)}
    attempt = _ATTEMPT.search(relative)
    if attempt and int(attempt.group(1)) in decisions:
        tags[_DECISION] = decisions[int(attempt.group(1))]
    return TrackedRun(path=relative, phase=phase, arm=arm, seed=int(seed.group(1)), tags=tags)


def _decisions(store: Any) -> dict[int, str]:
    from workflow.facts import read_facts

    return {a.attempt: str(a.decision) for a in read_facts(store).phase4.attempts
            if a.decision is not None}


# -- the ledger: what was logged where ---------------------------------------------------------


def _ledger(run_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """tracking.json: backend -> run path -> {"run_id": MLflow's, "decision": tagged}."""
    path = run_dir / LEDGER
    data = read_json(path) if path.is_file() else {}
    # an earlier phasegate kept a list of the paths logged
    return {backend: ({p: {} for p in data[backend]} if isinstance(data.get(backend), list)
                      else dict(data.get(backend) or {})) for backend in BACKENDS}


def logged_counts(store: Any) -> dict[str, int]:
    """How many runs of the project each backend has logged so far (live or at a command's
    end), from tracking.json."""
    return {backend: len(runs) for backend, runs in _ledger(store.run_dir).items() if runs}


def log_runs(store: Any, tracking: Tracking | None = None) -> list[str]:
    """Log every finished run not logged before, and tag each attempt's runs with the decision
    taken since (see the module docstring); the runs logged, as "backend:path"."""
    tracking = tracking or store.project.tracking
    if not tracking.enabled:
        return []
    ledger = _ledger(store.run_dir)
    logged: list[str] = []
    failed: set[str] = set()  # a backend that failed once this call is left to the next command
    for run in tracked_runs(store):
        for backend in tracking.backends:
            entry = ledger[backend].get(run.path)
            if backend in failed or (
                    entry is not None and entry.get("decision") == run.tags.get(_DECISION)):
                continue
            try:
                entry = _log_one(tracking, store, run, backend, entry)
            except Exception as exc:  # the work is saved: a tracker down never undoes a command
                failed.add(backend)
                print(f"phasegate: tracking {backend}: {run.path}: {exc.__class__.__name__}: "
                      f"{exc}; the runs not logged yet are logged by the next command",
                      file=sys.stderr)
                continue
            if entry.pop("new", False):
                logged.append(f"{backend}:{run.path}")
            ledger[backend][run.path] = {**entry, "decision": run.tags.get(_DECISION)}
            atomic_write_json(store.run_dir / LEDGER, ledger)  # after each: none twice
    return logged


def _log_one(tracking: Tracking, store: Any, run: Any, backend: str,
             entry: dict[str, Any] | None) -> dict[str, Any]:
    """Log `run` to `backend` (its ledger entry, "new" when it was logged just now), or tag
    the decision on a run logged before its attempt's decision was taken."""
    if entry is not None:
        _BACKENDS[backend].tag(tracking, store, run, entry)
        return dict(entry)
    # a run opened here is kept until it is finished: a failure retries into it
    live = _LIVE.runs.get((backend, run.path))
    if live is None:
        live = _LIVE.runs[(backend, run.path)] = _Open(
            _BACKENDS[backend].start(tracking, store, run))
    entry = _BACKENDS[backend].finish(tracking, store, run, live)
    _LIVE.pop(backend, run)
    return {**entry, "new": True}


# -- live: hooks of workflow.arms, while a command trains ---------------------------------------


@dataclass
class _Open:
    """A run logged while it trains: its MLflow run id or TensorBoard writer, and the epochs
    already logged."""

    handle: Any
    steps: set[int] = field(default_factory=set)


@dataclass
class _Live:
    """The runs this process is logging as they train, by backend and run path."""

    runs: dict[tuple[str, str], _Open] = field(default_factory=dict)
    failed: set[tuple[str, str]] = field(default_factory=set)  # left to the command's end

    def pop(self, backend: str, run: TrackedRun) -> _Open | None:
        return self.runs.pop((backend, run.path), None)


_LIVE = _Live()


def epoch_done(folder: Path, epoch: int, row: Mapping[str, float]) -> None:
    """One epoch of the run that trains into `folder` (a run directory's `.../seed-<n>`): logged
    now, when its project asks for tracking."""
    found = _project_of(Path(folder))
    if found is None:
        return
    store, tracking = found
    run = _run(store.name, store.run_dir, Path(folder), {})
    if run is None:
        return
    for backend in tracking.backends:
        if (backend, run.path) in _LIVE.failed:
            continue
        try:
            live = _LIVE.runs.get((backend, run.path))
            if live is None:
                live = _LIVE.runs[(backend, run.path)] = _Open(
                    _BACKENDS[backend].start(tracking, store, run))
            _BACKENDS[backend].epoch(live, epoch, row)
        except Exception as exc:  # a tracker's failure never stops the training
            # no more live epochs; a run already opened is kept, finished into at the end
            _LIVE.failed.add((backend, run.path))
            print(f"phasegate: tracking {backend}: {run.path}: {exc.__class__.__name__}: {exc}"
                  "; it is logged when the command ends", file=sys.stderr)


def run_done(folder: Path) -> None:
    """The run in `folder` finished: log it (and any other finished run not logged yet)."""
    found = _project_of(Path(folder))
    if found is None:
        return
    try:
        log_runs(found[0], found[1])
    except Exception as exc:  # a tracker's failure never stops the training
        print(f"phasegate: tracking: {exc.__class__.__name__}: {exc}; the runs are logged "
              "when the command ends", file=sys.stderr)


def _project_of(folder: Path) -> tuple[Any, Tracking] | None:
    """The project whose run directory holds `folder`, and its tracking, when it is enabled
    (None otherwise, and when its project file cannot be read: the command says why)."""
    for parent in folder.parents:
        if (parent / "state.json").is_file() and (parent / "project.yaml").is_file():
            try:
                tracking = _tracking(parent, (parent / "project.yaml").stat().st_mtime_ns)
            except Exception:  # the command that trains reads it too, and says what is wrong
                return None
            if tracking is None:
                return None
            from workflow.store import Store

            return Store(parent), tracking
    return None


@functools.lru_cache(maxsize=32)
def _tracking(run_dir: Path, mtime_ns: int) -> Tracking | None:
    """The project's tracking setting (read once per version of its project file)."""
    from workflow.store import Store

    tracking = Store(run_dir).project.tracking
    return tracking if tracking.enabled else None


# -- the backends ------------------------------------------------------------------------------


def _params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_params(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]  # MLflow's limit on a param's value
    return flat


def _numeric(row: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if k != "epoch" and isinstance(v, int | float)}


class _MLflow:
    """MLflow through its client: one MLflow run per run folder, by id."""

    @staticmethod
    def client(tracking: Tracking) -> Any:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError("tracking.mlflow needs the MLflow client: "
                              "pip install 'phasegate[mlflow]'") from None
        assert tracking.mlflow is not None
        if tracking.mlflow.startswith("file:"):
            # MLflow 3 keeps its file store but asks for consent: the project file named one
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return MlflowClient(tracking_uri=tracking.mlflow)

    def start(self, tracking: Tracking, store: Any, run: TrackedRun) -> tuple[Any, str]:
        """A new MLflow run for `run`, tagged: the client and the run's id."""
        client = self.client(tracking)
        name = tracking.experiment or store.name
        found = client.get_experiment_by_name(name)
        experiment = found.experiment_id if found is not None else client.create_experiment(name)
        created = client.create_run(experiment, run_name=f"{run.arm}/seed-{run.seed}",
                                    tags=run.tags)
        return client, str(created.info.run_id)

    def epoch(self, live: _Open, epoch: int, row: Mapping[str, Any]) -> None:
        client, run_id = live.handle
        self._metrics(client, run_id, epoch, row)
        live.steps.add(epoch)

    def _metrics(self, client: Any, run_id: str, step: int, row: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric

        at = int(time.time() * 1000)  # MLflow's timestamps are in milliseconds
        client.log_batch(run_id, metrics=[Metric(k, v, at, step)
                                          for k, v in _numeric(row).items()])

    def finish(self, tracking: Tracking, store: Any, run: TrackedRun, live: _Open | None
               ) -> dict[str, Any]:
        from mlflow.entities import Param, RunTag

        client, run_id = live.handle if live is not None else self.start(tracking, store, run)
        folder = store.run_dir / run.path
        config = read_yaml(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else {}
        params = _params(config) if isinstance(config, Mapping) else {}
        client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()],
                         tags=[RunTag(k, v) for k, v in run.tags.items()])
        for row in read_history(folder / HISTORY_FILE):
            step = int(row.get("epoch", 0))
            if live is None or step not in live.steps:
                self._metrics(client, run_id, step, row)
        client.set_terminated(run_id)
        return {"run_id": run_id}

    def tag(self, tracking: Tracking, store: Any, run: TrackedRun, entry: dict[str, Any]
            ) -> None:
        if entry.get("run_id"):
            self.client(tracking).set_tag(entry["run_id"], _DECISION, run.tags[_DECISION])


class _TensorBoard:
    """TensorBoard: one log folder per run folder, `<tensorboard>/<project>/<run path>`."""

    @staticmethod
    def writer(tracking: Tracking, store: Any, run: TrackedRun) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("tracking.tensorboard needs TensorBoard: "
                              "pip install 'phasegate[tensorboard]'") from None
        assert tracking.tensorboard is not None
        return SummaryWriter(log_dir=str(tracking.tensorboard / store.name / run.path))

    def start(self, tracking: Tracking, store: Any, run: TrackedRun) -> Any:
        return self.writer(tracking, store, run)

    def epoch(self, live: _Open, epoch: int, row: Mapping[str, Any]) -> None:
        for name, value in _numeric(row).items():
            live.handle.add_scalar(name, value, epoch)
        live.handle.flush()
        live.steps.add(epoch)

    def finish(self, tracking: Tracking, store: Any, run: TrackedRun, live: _Open | None
               ) -> dict[str, Any]:
        writer = live.handle if live is not None else self.writer(tracking, store, run)
        try:
            for row in read_history(store.run_dir / run.path / HISTORY_FILE):
                step = int(row.get("epoch", 0))
                if live is None or step not in live.steps:
                    for name, value in _numeric(row).items():
                        writer.add_scalar(name, value, step)
            writer.add_text("phasegate", _tags_text(run))
        finally:
            writer.close()
        return {}

    def tag(self, tracking: Tracking, store: Any, run: TrackedRun, entry: dict[str, Any]
            ) -> None:
        writer = self.writer(tracking, store, run)
        try:
            writer.add_text("phasegate", _tags_text(run))
        finally:
            writer.close()


def _tags_text(run: TrackedRun) -> str:
    return "  \n".join(f"{k}: {v}" for k, v in run.tags.items())


_BACKENDS: dict[str, Any] = {"mlflow": _MLflow(), "tensorboard": _TensorBoard()}
