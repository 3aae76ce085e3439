"""Active probes: the lr range test, the batch-size probe, and trial runs of the candidates.

- `lr` and `batch` (`run_probes`): on the built-in trainer, `workflow.trainer.probe`
  runs them with the trainer's own data and model (phases/ never imports those). A
  user's trainer has its own: the range test applies only when the trainer offers
  one (an `lr_range_test(config, seed=, steps=)` beside its `fit`); otherwise the
  result says it does not apply.
- trials (`trial_runs`): the leading candidate changes, and the set Phase 4 will
  apply first, each trained in full on a seed or two through the project's trainer
  (`workflow.arms.train_arm`, so any trainer's `fit`, resumable). Their gains on the
  baseline's same seeds are what `predict` turns into expected-gain intervals.

`lr` runs by default in `run` and `diagnose` when it is cheap: its steps fit the
project's probe budget (`probe_steps`; 0 turns the default off). Trials run when
their steps fit the same budget. Results are plain dicts (JSON-ready) kept in
`Evidence.probes`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence
from phases.diagnostic.predict import change_key
from workflow.errors import ConfigError
from workflow.own_config import RunConfig, as_view, fit_argument
from workflow.trainer.config import TrainConfig

__all__ = [
    "LR_STEPS",
    "PROBES",
    "STOP_FACTOR",
    "batch_probe",
    "default_probes",
    "lr_range_test",
    "run_probes",
    "steepest_descent",
    "trial_candidates",
    "trial_runs",
]

PROBES = ("lr", "batch", "trials")
LR_STEPS = 100
STOP_FACTOR = 4.0
TRIAL_SEEDS = 2  # seeds of each trial run (the first of the project's)
TRIAL_CANDIDATES = 3  # single changes probed, besides the set Phase 4 applies first


def steepest_descent(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """The lr where `losses` falls fastest against log10(lr) (workflow.trainer.probe's)."""
    from workflow.trainer.probe import steepest_descent as find

    return find(lrs, losses)


def lr_range_test(config: TrainConfig, *, seed: int = 0, steps: int = LR_STEPS,
                  start_lr: float = 1e-7, end_lr: float = 10.0) -> dict[str, Any]:
    """The built-in trainer's range test on a fresh model of `config`."""
    from workflow.trainer.probe import lr_range_test as test

    return test(config, seed=seed, steps=steps, start_lr=start_lr, end_lr=end_lr)


def batch_probe(config: TrainConfig, *, seed: int = 0, sizes: Sequence[int] | None = None,
                steps: int | None = None) -> dict[str, Any]:
    """The built-in trainer's batch-size probe."""
    from workflow.trainer import probe

    return probe.batch_probe(config, seed=seed, sizes=sizes or probe.BATCH_SIZES,
                             steps=steps or probe.BATCH_STEPS)


def default_probes(given: Sequence[str], budget: int) -> list[str]:
    """`given`, with the range test added when it is cheap: its steps fit `budget`."""
    names = list(given)
    if "lr" not in names and 0 < LR_STEPS <= budget:
        names.append("lr")
    return names


def _offered(trainer: str) -> Callable[..., dict[str, Any]] | None:
    """A user's trainer's own range test, if it offers one beside its `fit`."""
    try:
        from workflow.protocol import resolve_trainer_protocol  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    found = getattr(resolve_trainer_protocol(trainer), "lr_range_test", None)
    return found if callable(found) else None


def run_probes(config: RunConfig, names: Sequence[str], *, seed: int = 0,
               trainer: str = "builtin") -> dict[str, Any]:
    """The probes named (`lr`, `batch`), keyed as `Evidence.probes` expects (`trials` run
    after a first diagnosis, `trial_runs`)."""
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise ConfigError(f"--probe: unknown probe {unknown[0]!r} (allowed: {', '.join(PROBES)})")
    results: dict[str, Any] = {}
    builtin = trainer == "builtin"
    if "lr" in names:
        own = None if builtin else _offered(trainer)
        if builtin:
            results["lr_range"] = lr_range_test(as_view(config), seed=seed)
        elif own is not None:  # the trainer's own test takes the config its fit takes
            results["lr_range"] = own(fit_argument(config), seed=seed, steps=LR_STEPS)
        else:
            results["not_applied"] = {"lr": f"the trainer {trainer} offers no lr range test "
                                            "(an lr_range_test beside its fit)"}
    if "batch" in names:
        if builtin:
            results["batch"] = batch_probe(as_view(config), seed=seed)
        else:
            results.setdefault("not_applied", {})["batch"] = (
                f"the batch probe times the built-in trainer's steps, not {trainer}'s")
    return results


def trial_candidates(recs: Sequence[Recommendation]) -> list[tuple[str, dict[str, Any]]]:
    """What to try: the leading single changes, and the set Phase 4's targeted attempt
    applies (the HIGH and MEDIUM ones together), each once, as (name, changes)."""
    out: list[tuple[str, dict[str, Any]]] = []
    keys: set[str] = set()

    def add(name: str, changes: dict[str, Any]) -> None:
        key = change_key(changes)
        if changes and key not in keys:
            keys.add(key)
            out.append((name, changes))

    urgent = [r for r in recs if r.priority in ("HIGH", "MEDIUM")] or list(recs[:3])
    combined: dict[str, Any] = {}
    for rec in urgent:
        combined.update(rec.changes)
    add("+".join(r.id or r.name for r in urgent), combined)
    for rec in recs[:TRIAL_CANDIDATES]:
        add(rec.id or rec.name, dict(rec.changes))
    return out


def _steps(config: TrainConfig, train_size: int | None) -> int:
    size = train_size or 10 * config.data.batch_size
    return math.ceil(size / config.data.batch_size) * config.training.epochs


def trial_runs(
    ev: Evidence,
    recs: Sequence[Recommendation],
    root: Path,
    *,
    budget: int,
    seeds: Sequence[int] | None = None,
    workers: int | None = None,
) -> dict[str, Any] | None:
    """Train the trial candidates within `budget` steps; the `probes.trials` record.

    None when not even one candidate fits the budget or the baseline has no usable seed.
    Each candidate's folder is `root/<n>/seed-<s>/` (resumed when it is there).
    """
    from workflow.arms import train_arm

    base = {run.seed: ev.best_row(run).get(ev.metric) for run in ev.usable}
    chosen_seeds = [s for s in (seeds or sorted(base)) if s in base][:TRIAL_SEEDS]
    if not chosen_seeds:
        return None
    sizes = [run.train_size for run in ev.runs if run.train_size]
    train_size = min(sizes) if sizes else None
    runs, spent, skipped = [], 0, []
    for number, (name, changes) in enumerate(trial_candidates(recs), start=1):
        # an own config is patched on the trainer's keys (workflow.own_config)
        config = (ev.own or ev.config).with_changes(changes, source=f"trial {name}")
        cost = _steps(as_view(config), train_size) * len(chosen_seeds)
        if spent + cost > budget:
            skipped.append(name)
            continue
        spent += cost
        arm = train_arm(f"trial-{number}", config, chosen_seeds, root / str(number),
                        trainer=ev.trainer, workers=workers)
        runs.append({"name": name, "key": change_key(changes), "changes": changes,
                     "values": {str(s): arm.value(s, ev.metric) for s in chosen_seeds},
                     "steps": cost})
    if not runs:
        return None
    return {"seeds": chosen_seeds, "baseline": {str(s): base[s] for s in chosen_seeds},
            "runs": runs, "steps": spent, "budget": budget, "skipped": skipped}
