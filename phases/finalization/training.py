"""The final training: which config, trained on which seeds, and which seed's model is kept.

The chosen config is Phase 4's `phase4/optimization_config.yaml`, or the
baseline's own config when Phase 4 was skipped (the project entered `optimized`
by the `skip` transition). It is trained on the project's seeds into
`phase5/final/seed-<n>/`; finished seeds are not trained again.

One model is kept: the seed whose target metric (on the validation split, at
its best epoch) is the *median* of the seeds. The best seed would be the
luckiest draw of N, and its validation score biased upward; the median is what
a rerun of this config should be expected to give. With an even number of
seeds the better of the two middle seeds is kept. The baseline is represented
on the test set by its own median seed, chosen by the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workflow.arms import train_arm
from workflow.errors import RunFailed, StateError
from workflow.facts import read_facts
from workflow.metric import Metric
from workflow.own_config import RunConfig, load_config
from workflow.progress import Progress
from workflow.stats import MIN_SEEDS
from workflow.store import Store
from workflow.trainer.result import CHECKPOINT_DIR, METRICS_FILE, RunResult

__all__ = [
    "BASELINE_RETRAIN_DIR",
    "CHOSEN_CONFIG",
    "FINAL_DIR",
    "Chosen",
    "Selection",
    "baseline_selection",
    "chosen_config",
    "select_median",
    "train_final",
]

FINAL_DIR = "phase5/final"
BASELINE_RETRAIN_DIR = "phase5/baseline"
CHOSEN_CONFIG = "phase4/optimization_config.yaml"
BEST_CHECKPOINT = f"{CHECKPOINT_DIR}/best.pt"

@dataclass(frozen=True)
class Chosen:
    """The config Phase 5 trains, and where it came from."""

    config: RunConfig  # phasegate's TrainConfig, or the trainer's own
    source: str  # "phase4" or "baseline"
    path: Path
    why: str


def chosen_config(store: Store) -> Chosen:
    """Phase 4's chosen config, or the baseline's when Phase 4 was skipped."""
    project = store.project
    facts = read_facts(store)
    entry = facts.moves.entry("optimized")
    if entry is not None:
        skipped = entry.transition == "skip"
    else:  # a project created at `optimized` (an import): Phase 3's facts say which way it came
        skipped = facts.phase3.strategy == "skip"
    if skipped:
        potential = facts.phase3.potential
        why = "Phase 4 was skipped" + (
            f" (Phase 3's potential {potential:.1f} points is under the 3-point bar)"
            if potential is not None else "")
        return Chosen(load_config(project.baseline, project.trainer), "baseline", project.baseline,
                      f"{why}: the baseline config is final")
    path = store.run_dir / CHOSEN_CONFIG
    if not path.is_file():
        raise StateError(
            f"{path}: Phase 4's chosen config is missing; Phase 5 trains the config Phase 4 "
            f"chose (phasegate optimize {store.name})"
        )
    decision = facts.phase4.decision
    why = f"Phase 4 chose it (decision {decision})" if decision else "Phase 4 chose it"
    return Chosen(load_config(path, project.trainer), "phase4", path, why)


def train_final(
    store: Store, chosen: Chosen, *, workers: int | None = None, progress: Progress | None = None,
) -> dict[int, RunResult]:
    """The chosen config on every project seed: an earlier arm's identical runs reused
    (phases.finalization.reuse, recorded as `phase5.final_source`), else trained here
    (finished seeds are not trained again)."""
    from phases.finalization.reuse import find_source, link_runs

    project = store.project
    dest = store.run_dir / FINAL_DIR
    source = find_source(store.run_dir, chosen.config, project.seeds, FINAL_DIR)
    if source.reused:
        link_runs(store.run_dir, source, dest)
    store.record("phase5", {"final_source": source.to_dict()})
    arm = train_arm("final", chosen.config, project.seeds, dest,
                    trainer=project.trainer, workers=workers, progress=progress)
    return arm.results


@dataclass(frozen=True)
class Selection:
    """The seed whose model is kept, and why."""

    seed: int
    rule: str
    metric: str
    value: float
    values: dict[int, float]
    run_dir: str
    checkpoint: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["values"] = {str(k): v for k, v in self.values.items()}
        return data


def select_median(
    values: Mapping[int, float], *, metric: Metric, root: Path, arm: str
) -> Selection:
    """The seed at the median of `values` (see the module docstring for even counts)."""
    finite = {seed: v for seed, v in values.items() if math.isfinite(v)}
    if len(finite) < MIN_SEEDS:
        raise RunFailed(
            f"the {arm} has {len(finite)} usable seeds ({sorted(finite)} of {sorted(values)}); "
            f"a model is selected from at least {MIN_SEEDS}"
        )
    # worst first; ties in seed order
    ranked = sorted(finite, key=lambda seed: (metric.oriented(finite[seed]), seed))
    seed = ranked[len(ranked) // 2]
    shown = ", ".join(f"seed {s}: {finite[s]:.4f}" for s in ranked)
    why = (
        f"the median of {len(ranked)} seeds by {metric.name} ({shown}); the median, not the "
        "best, because the best of several seeds is biased upward"
    )
    run_dir = root / f"seed-{seed}"
    return Selection(seed=seed, rule="median", metric=metric.name, value=finite[seed],
                     values=dict(finite), run_dir=str(run_dir),
                     checkpoint=str(run_dir / BEST_CHECKPOINT), why=why)


def final_values(results: Mapping[int, RunResult], metric: str) -> dict[int, float]:
    """Each usable seed's `metric` at its best epoch."""
    values = {}
    for seed, result in results.items():
        value = result.best.get(metric)  # null in metrics.json when it was not finite
        if result.status.is_usable() and value is not None:
            values[seed] = float(value)
    return values


def baseline_selection(store: Store, *, workers: int | None = None,
                       progress: Progress | None = None) -> Selection:
    """The baseline's median seed and its best checkpoint (trained here if it was imported)."""
    from workflow.arms import load_baseline

    project = store.project
    config = load_config(project.baseline, project.trainer)
    root = store.run_dir / "baseline"
    seeds = read_facts(store).baseline.seed_list or list(project.seeds)
    metric = project.target.measure
    values = load_baseline(root, config, seeds).values(metric.name)
    selection = select_median(values, metric=metric, root=root, arm="baseline")
    if Path(selection.checkpoint).is_file():
        return selection
    if (Path(selection.run_dir) / METRICS_FILE).is_file():  # a trained run, not a history
        raise StateError(
            f"{selection.checkpoint}: the baseline's checkpoint of seed {selection.seed} is "
            "missing; it is not trained again (a retrained baseline is not the one the "
            "project compared against): restore it, or start a new project")
    # an imported baseline has histories but no weights: train its median seed once
    retrain = store.run_dir / BASELINE_RETRAIN_DIR
    train_arm("baseline", config, [selection.seed], retrain, trainer=project.trainer,
              workers=1, progress=progress)
    run_dir = retrain / f"seed-{selection.seed}"
    return Selection(
        seed=selection.seed, rule=selection.rule, metric=metric.name, value=selection.value,
        values=selection.values, run_dir=str(run_dir), checkpoint=str(run_dir / BEST_CHECKPOINT),
        why=selection.why + "; the baseline was imported without weights, so this seed was "
        f"trained again with the baseline config into {BASELINE_RETRAIN_DIR}/",
    )
