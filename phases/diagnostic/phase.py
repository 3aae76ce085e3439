"""Phase 3 with the store: train or import the baseline, diagnose it, write and record everything.

`run_baseline` trains the project's baseline config on every project seed (or
imports a user's own histories) into `runs/<p>/baseline/seed-<n>/` and records
the baseline facts. `run_diagnose` reads those runs, makes the findings, the
config table and the plan, writes `runs/<p>/phase3/` (the report and its JSON
twin, findings.json, the plots, the config preview), records the phase3 facts,
and takes the `diagnose` transition (baseline -> diagnosed).

`baseline` may run again while the project is `diagnosed` (a diverged baseline
is fixed and re-run); that marks the diagnosis stale until `diagnose` reruns.
Both hold the project's lock throughout. A diagnosis is a pure function of
the recorded runs (plus the probes, when asked for), so rerunning `diagnose`
on a diagnosed project re-renders the same artifacts and facts: it is allowed
and idempotent (for instance after a Phase 4 revert). Anywhere past
`diagnosed` it is refused: the diagnosis that Phase 4 acted on stays as it was.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from phases.diagnostic.diagnosis import Diagnosis, diagnose
from phases.diagnostic.evidence import (
    IMPORT_MARKER,
    REQUIRED_COLUMNS,
    SUMMARY_METRICS,
    Evidence,
    SeedRun,
    check_history_file,
    load_seed_runs,
    mean,
    std,
)
from phases.diagnostic.predict import Record
from phases.diagnostic.record import load_record, save_predictions
from phases.diagnostic.report import REPORT_FILE, write_diagnosis
from phases.diagnostic.rules import seed_advice
from workflow.arms import train_arm
from workflow.errors import ConfigError, WrongState
from workflow.facts import read_facts
from workflow.io import atomic_write_json, atomic_write_text
from workflow.machine import MACHINE, require, take
from workflow.own_config import OwnConfig, RunConfig, as_view, load_config
from workflow.progress import Progress
from workflow.project import ProjectConfig
from workflow.store import Store, now
from workflow.trainer.result import HISTORY_FILE

# Diagnosis and diagnose are re-exported: Phase 4's iterative strategy imports them from here
__all__ = [
    "BASELINE_DIR",
    "PHASE_DIR",
    "Diagnosis",
    "baseline_facts",
    "diagnose",
    "evidence_for",
    "import_histories",
    "phase3_facts",
    "run_baseline",
    "run_diagnose",
]

BASELINE_DIR = "baseline"
PHASE_DIR = "phase3"
TRIALS_DIR = "trials"  # phase3/trials/<n>/seed-<s>/: the trial runs of the leading changes
BASELINE_STATE = "baseline"
DIAGNOSED_STATE = "diagnosed"
TRANSITION = "diagnose"


# ---- the baseline -----------------------------------------------------------------------


def evidence_for(
    runs: list[SeedRun], config: RunConfig, project: ProjectConfig, probes: dict[str, Any] | None
) -> Evidence:
    return Evidence(
        runs=runs,
        config=as_view(config),  # an own config is read as phasegate's settings it means
        own=config if isinstance(config, OwnConfig) else None,
        target=project.target.measure,
        goal=project.target.goal,
        min_effect=project.min_effect,
        alpha=project.alpha,
        probes=probes or {},
        power=project.power,
        family=project.iteration_limit,
        trainer=project.trainer,
    )


def baseline_facts(evidence: Evidence, *, source: str) -> dict[str, Any]:
    """The `baseline.*` facts: completion, usable and diverged counts, mean and std per metric."""
    usable = evidence.usable
    facts: dict[str, Any] = {
        "completed": True,
        "source": source,
        "seed_list": [run.seed for run in evidence.runs],
        "runs": len(evidence.runs),
        "seeds": len(usable),
        "diverged": len(evidence.diverged),
        "completed_at": now(),
    }
    metrics = list(SUMMARY_METRICS)
    if evidence.metric not in metrics:
        metrics.append(evidence.metric)
    for metric in metrics:
        rows = [evidence.best_row(run) for run in usable]
        values = [float(row[metric]) for row in rows if metric in row]
        finite = [v for v in values if math.isfinite(v)]
        if finite and len(finite) == len(usable):
            facts[metric] = {"mean": mean(finite), "std": std(finite), "n": len(finite),
                             "values": finite}
        else:  # recorded as unknown, so a stale value of an earlier baseline never survives
            facts[metric] = {"mean": None, "std": None, "n": 0, "values": []}
    return facts


def import_histories(
    source: Path, root: Path, config: RunConfig, metric: str,
    expected: Sequence[int] | None = None,
) -> list[int]:
    """Copy a user's DIR/seed-<n>/history.csv into `root`; every file is validated first.

    `expected`: the project's seeds, which the imported ones must be (Phase 4 trains each
    candidate on the project's seeds and compares it with the baseline's, seed by seed).
    """
    if not source.is_dir():
        raise ConfigError(f"--import {source}: not a folder")
    folders = sorted(
        (p for p in source.iterdir() if p.is_dir() and p.name.startswith("seed-")),
        key=lambda p: p.name,
    )
    seeds: dict[int, Path] = {}
    for folder in folders:
        try:
            seeds[int(folder.name.removeprefix("seed-"))] = folder
        except ValueError:
            raise ConfigError(f"{folder}: expected a folder named seed-<integer>") from None
    if not seeds:
        raise ConfigError(f"--import {source}: no seed-<n>/history.csv folders in it")
    if expected is not None and sorted(seeds) != sorted(expected):
        raise ConfigError(
            f"--import {source}: holds seeds {sorted(seeds)}, but the project's seeds are "
            f"{sorted(expected)}; Phase 4 trains its candidates on the project's seeds and "
            "compares them with the baseline seed by seed: set `seeds:` in the project file "
            "to the imported ones, or import seed-<n> folders for exactly the project's seeds"
        )
    required = list(REQUIRED_COLUMNS)
    if metric not in required and (metric.startswith("val_") or metric.startswith("train_")):
        required.append(metric)
    for seed in sorted(seeds):  # validate every file before anything is written
        check_history_file(seeds[seed] / HISTORY_FILE, required)
    for seed in sorted(seeds):
        target = root / f"seed-{seed}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        atomic_write_text(target / HISTORY_FILE, (seeds[seed] / HISTORY_FILE).read_text())
        atomic_write_json(target / IMPORT_MARKER, {
            "source": str((seeds[seed] / HISTORY_FILE).resolve()),
            "imported_at": now(),
        })
    return sorted(seeds)


def run_baseline(
    store: Store,
    *,
    import_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    who: str = "phasegate",
) -> Evidence:
    """Train (or import) the baseline on every seed and record the baseline facts.

    Allowed in `baseline`, and again in `diagnosed` (a baseline that diverged is fixed in
    its config and re-run before Phase 4): the diagnosis of the old runs is then marked
    stale (phase3.strategy becomes null, so diagnostics_complete fails until `diagnose`
    runs again). Once Phase 4 has started, the baseline it compares against is fixed.

    The training reports on `progress` (its bars: `training`, `epoch`, `seed_done`,
    `end_training`).
    """
    with store.lock():
        state = store.current
        if state not in MACHINE.runs_in("diagnose"):  # the baseline is Phase 3's first step
            raise WrongState(
                f"cannot run the baseline of {store.name}: it is {state}, and the baseline is "
                "fixed once Phase 4 has started"
            )
        project = store.project
        config = load_config(project.baseline, project.trainer)
        root = store.run_dir / BASELINE_DIR
        if import_dir is not None:
            seeds = import_histories(Path(import_dir), root, config, project.target.metric,
                                     expected=project.seeds)
            source = "imported"
        else:
            train_arm("baseline", config, project.seeds, root, trainer=project.trainer,
                      workers=workers, progress=progress)
            seeds, source = list(project.seeds), "trained"
        evidence = evidence_for(load_seed_runs(root, seeds, config), config, project, None)
        facts = baseline_facts(evidence, source=source)
        store.record(BASELINE_DIR, facts, who=who)
        store.append_event("baseline", {"who": who, "source": source, "seeds": facts["seeds"],
                                        "diverged": facts["diverged"]})
        if state == DIAGNOSED_STATE:
            store.record(PHASE_DIR, {
                "strategy": None,
                "stale": f"the baseline was re-run at {facts['completed_at']}: run phasegate "
                f"diagnose {store.name} again",
            }, who=who)
    return evidence


# ---- the diagnosis ----------------------------------------------------------------------


def phase3_facts(diagnosis: Diagnosis) -> dict[str, Any]:
    p = diagnosis.plan
    return {
        "findings_count": len(diagnosis.findings),
        "findings": [f.id for f in diagnosis.findings],
        "root_causes": p.root_causes,
        "recommendations_count": len(p.recommendations),
        "recommendations": [r.fact() for r in p.recommendations],
        "strategy": p.strategy,
        "auto_strategy": p.auto_strategy,
        "strategy_reason": p.strategy_reason,
        "potential": float(p.potential),
        "search_space": p.search_space,
        "seeds_needed": p.seeds_needed,
        "seed_advice": seed_advice(diagnosis.evidence).to_dict(),
        "probes": sorted(diagnosis.evidence.probes),
        "stale": None,
        "completed_at": now(),
    }


def _with_trials(
    diagnosis: Diagnosis, out_dir: Path, project: ProjectConfig, record: Record,
    *, workers: int | None,
) -> Diagnosis:
    """The diagnosis again, once the leading changes were tried (`probes.trial_runs`) within
    the probe budget left after the range test: their expected gains are then measured."""
    from phases.diagnostic.probes import LR_STEPS, trial_runs

    evidence = diagnosis.evidence
    spent = LR_STEPS if "lr_range" in evidence.probes else 0
    trials = trial_runs(evidence, diagnosis.plan.recommendations, out_dir / TRIALS_DIR,
                        budget=project.probe_steps - spent, workers=workers)
    if trials is None:
        return diagnosis
    evidence = replace(evidence, probes={**evidence.probes, "trials": trials})
    return diagnose(evidence, preference=project.strategy, record=record)


def run_diagnose(
    store: Store, *, probes: Sequence[str] = (), who: str = "phasegate",
    workers: int | None = None,
) -> tuple[Diagnosis, Path]:
    """Diagnose the recorded baseline, write phase3/, record the facts, take `diagnose`.

    `probes`: `lr`, `batch` run first; `trials` tries the leading changes on a seed or two
    (within the project's probe_steps) and diagnoses again with their measured gains.
    Every diagnosis appends its predictions to phase3/predictions.json (`record`).
    """
    with store.lock():
        state = require(store, "diagnose")  # the diagnosis Phase 4 acted on is kept as it was
        baseline = read_facts(store).baseline
        if baseline.completed is not True:
            raise WrongState(
                f"cannot diagnose {store.name}: no baseline yet (run: phasegate baseline "
                f"{store.name}, or import one with --import DIR)"
            )
        project = store.project
        config = load_config(project.baseline, project.trainer)
        seeds = baseline.seed_list if baseline.seed_list is not None else list(project.seeds)
        runs = load_seed_runs(store.run_dir / BASELINE_DIR, seeds, config)
        measured: dict[str, Any] = {}
        names = [p for p in probes if p != "trials"]
        if names:
            from phases.diagnostic.probes import run_probes

            measured = run_probes(config, names, seed=seeds[0] if seeds else 0,
                                  trainer=project.trainer)
        evidence = evidence_for(runs, config, project, measured)
        out_dir = store.run_dir / PHASE_DIR
        record = load_record(store, out_dir)
        diagnosis = diagnose(evidence, preference=project.strategy, record=record)
        if "trials" in probes:
            diagnosis = _with_trials(diagnosis, out_dir, project, record, workers=workers)
        write_diagnosis(diagnosis, project, out_dir, source=baseline.source or "trained",
                        project_dir=store.project_dir, record=record)
        store.record(PHASE_DIR, phase3_facts(diagnosis), who=who)
        save_predictions(out_dir, diagnosis)
        if state == BASELINE_STATE:
            take(store, TRANSITION, who, f"Phase 3: strategy {diagnosis.plan.strategy}")
        else:
            store.append_event("rediagnosed", {"who": who, "strategy": diagnosis.plan.strategy})
    return diagnosis, out_dir / REPORT_FILE
