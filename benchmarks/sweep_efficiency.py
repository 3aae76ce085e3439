"""How much compute a Bayesian sweep with pruning needs to match a full grid search.

On the embedded default (configs/baseline.yaml: an MLP on the bundled digits,
15 epochs) both search one space: optimizer (sgd with its momentum, or adam),
learning rate, hidden widths and dropout. The grid tries 2 x 4 x 3 = 24
configurations, every one for all its epochs, as a grid search does. The
Bayesian sweep (TPE) with median pruning gets the same number of trials and
stops the hopeless ones early; it runs once per sampler seed (three by default),
and the worst of them is held to the target.

The bar is the grid's best validation accuracy, less its seed noise: the grid's
best configuration is re-run on fresh seeds and the standard deviation of its
values is the noise. For each method the script counts the epochs spent (every
trial's epochs, pruned ones included, in trial order) until a completed trial
reaches the bar, and prints the ratio of the Bayesian sweep's epochs to the
grid's total epochs (a grid must run all of its points to know its best).
Target: at most a third. Both sweeps' best configurations are re-run on the same
fresh seeds, so their means can be compared too.

Each sweep also prints its re-runs' cost as a share of its search's (epochs of the
top trials' re-runs on fresh seeds, which race: sweep/rerun.py, over the search's
epochs; target at most 0.5); --top-k sets how many trials are re-run (default 3,
the project default), --fresh how many fresh seeds they race on (default 3; a project's
default is 5), --min-effect the race's minimum effect (default: the project default,
as Phase 4 passes it). The re-runs' floor: every candidate trains on the first three
fresh seeds before any is compared, so top-k x 3 runs.

    python benchmarks/sweep_efficiency.py [--out runs/bench-sweep] [--workers 2] [--trials 24]
                                          [--seeds 0 1 2] [--fresh 3] [--min-effect 0.01]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from phases.optimization.sweep import SweepResult, SweepSettings, parse_space, run_sweep
from workflow.project import ProjectConfig
from workflow.trainer.config import load_train_config

REPO = Path(__file__).resolve().parents[1]
FRESH_SEEDS = [101, 102, 103, 104, 105]  # the first --fresh of them
MIN_EFFECT = ProjectConfig.model_fields["min_effect"].default

SPACE: dict[str, Any] = {
    "optimizer.name": {"type": "categorical", "choices": ["sgd", "adam"]},
    "optimizer.lr": {"type": "float", "low": 1e-4, "high": 0.3, "log": True,
                     "grid": [0.001, 0.01, 0.03, 0.1]},
    "optimizer.momentum": {"type": "float", "low": 0.5, "high": 0.99,
                           "when": {"optimizer.name": "sgd"}, "grid": [0.9]},
    "model.widths": {"type": "categorical", "choices": [[64, 32], [128, 64], [256, 128]]},
    "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "grid": [0.0]},
}


def epochs_to_reach(result: SweepResult, bar: float) -> int | None:
    """Epochs spent, in trial order, until a completed trial scores at least `bar`."""
    spent = 0
    for record in sorted(result.trials, key=lambda r: r.number):
        spent += record.epochs_run
        if record.state == "complete" and record.value is not None and record.value >= bar:
            return spent
    return None


def sweep(
    name: str, out: Path, settings: SweepSettings, workers: int | None, fresh: list[int],
    min_effect: float,
) -> tuple[SweepResult, float]:
    """One sweep; `workers` processes run its trials and its re-runs (None: the trials
    `settings.workers`, the re-runs the runner's default)."""
    base = load_train_config(REPO / "configs" / "baseline.yaml").model_copy(
        update={"device": "cpu"}
    )
    started = time.perf_counter()
    result = run_sweep(
        base,
        parse_space(SPACE, source="benchmarks/sweep_efficiency.py"),
        out / name,
        settings=settings,
        fresh_seeds=fresh,
        workers=workers,
        min_effect=min_effect,
    )
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench-sweep")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the grid and of the re-runs")
    parser.add_argument("--trials", type=int, default=24, help="the Bayesian sweep's trials")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="the Bayesian sampler's seeds: one sweep each")
    parser.add_argument("--keep", action="store_true", help="continue the sweeps in --out")
    parser.add_argument("--top-k", type=int, default=3, help="trials re-run on fresh seeds")
    parser.add_argument("--fresh", type=int, default=3, choices=range(3, 6),
                        help="fresh seeds the re-runs race on")
    parser.add_argument("--min-effect", type=float, default=MIN_EFFECT,
                        help="the race's minimum effect (default: the project default)")
    args = parser.parse_args()
    fresh = FRESH_SEEDS[:args.fresh]
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)

    grid, grid_time = sweep(
        "grid", args.out,
        SweepSettings(method="grid", pruner="none", workers=args.workers, top_k=args.top_k,
                      study_name="grid"),
        args.workers, fresh, args.min_effect,
    )
    grid_best = grid.best_trial
    assert grid_best is not None and grid_best.value is not None
    noise_values = [grid_best.value, *grid.candidates[0].values]
    noise = statistics.stdev(noise_values)
    bar = grid_best.value - noise
    grid_epochs = grid.total_epochs
    print(f"grid: {len(grid.trials)} configurations, {grid_epochs} epochs ({grid_time:.0f} s); "
          f"best val_accuracy {grid_best.value:.4f} (trial {grid_best.number}); "
          f"re-run on fresh seeds {rerun(grid)}; {rerun_cost(grid)}")
    print(f"seed noise of the grid's best: std {noise:.4f} over seeds "
          f"{[0, *grid.candidates[0].seeds]} ({', '.join(f'{v:.4f}' for v in noise_values)}); "
          f"bar = {bar:.4f}")
    print(f"the grid reaches the bar after {epochs_to_reach(grid, bar)} epochs in its (shuffled) "
          f"order, but spends {grid_epochs} to know its best", flush=True)

    runs = []
    for seed in args.seeds:
        bayes, bayes_time = sweep(
            f"bayesian-{seed}", args.out,
            # one worker: TPE learns from every finished trial, and epochs count in order
            SweepSettings(method="bayesian", pruner="median", trials=args.trials,
                          workers=1, seed=seed, top_k=args.top_k, study_name="bayesian"),
            None, fresh, args.min_effect,
        )
        reach = epochs_to_reach(bayes, bar)
        ratio = reach / grid_epochs if reach is not None else math.inf
        best = bayes.best_trial
        print(f"bayesian + median pruning, seed {seed}: {len(bayes.trials)} trials "
              f"({bayes.counts}), {bayes.total_epochs} epochs ({bayes_time:.0f} s); best "
              f"val_accuracy {best.value if best and best.value else math.nan:.4f}, re-run "
              f"{rerun(bayes)}; reaches the bar after "
              f"{reach if reach is not None else 'never'} epochs: ratio {ratio:.3f}; "
              f"{rerun_cost(bayes)}", flush=True)
        runs.append({"seed": seed, "epochs_total": bayes.total_epochs, "epochs_to_reach": reach,
                     "rerun_epochs": rerun_epochs(bayes),
                     "ratio": ratio, "best": best.value if best else None,
                     "rerun": bayes.candidates[0].to_dict() if bayes.candidates else None})

    ratios = sorted(r["ratio"] for r in runs)
    median = statistics.median(ratios)
    print(f"ratio (bayesian epochs to reach the grid's best within its noise / grid epochs): "
          f"median {median:.3f}, worst {ratios[-1]:.3f} over {len(runs)} sampler seeds "
          f"(target <= 0.333: {'met' if ratios[-1] <= 1 / 3 else 'NOT met'})")
    summary = {
        "grid_epochs": grid_epochs,
        "grid_best": grid_best.value,
        "grid_rerun": grid.candidates[0].to_dict() if grid.candidates else None,
        "noise_std": noise,
        "bar": bar,
        "grid_epochs_to_reach": epochs_to_reach(grid, bar),
        "bayesian": runs,
        "ratio_median": median,
        "ratio_worst": ratios[-1],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


def rerun_epochs(result: SweepResult) -> int:
    """Epochs the re-runs on fresh seeds trained (every candidate, every seed it raced on)."""
    from workflow.trainer.result import RunResult

    return sum(len(RunResult.load(c.rerun_dir / f"seed-{s}").history)
               for c in result.candidates for s in c.seeds)


def rerun_cost(result: SweepResult) -> str:
    """The re-runs' epochs as a share of the search's (target at most 0.5)."""
    spent = rerun_epochs(result)
    share = spent / result.total_epochs if result.total_epochs else math.inf
    return (f"re-runs {spent} epochs = {share:.2f} of the search's {result.total_epochs} "
            f"(target <= 0.5: {'met' if share <= 0.5 else 'NOT met'})")


def rerun(result: SweepResult) -> str:
    """The chosen configuration's mean ± std on the fresh seeds."""
    summary = result.candidates[0].summary if result.candidates else None
    return f"{summary.mean:.4f} ± {summary.std:.4f}" if summary else "–"


if __name__ == "__main__":
    main()
