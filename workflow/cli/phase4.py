"""`phasegate optimize`: Phase 4 from the command line.

Thin over `phases.optimization.phase.optimize`: take the project's lock, run it with
a rich progress bar per seed, print the decision. Exit 0 when Phase 4 ended
(`optimized`: decision A, D or budget), 1 when it was refused: the entry gate
failed, or decision C sent the project back to `diagnosed`. A decision B never
ends the command: the next attempt starts by itself (see the phase's docstring).
Nothing here imports torch or the phases until the command runs.
"""

from __future__ import annotations

import argparse
import json

from workflow.cli import add_command, whoami
from workflow.cli.display import RichProgress
from workflow.errors import EXIT_OK, EXIT_REFUSED, ConfigError
from workflow.project import BUILTIN_STRATEGIES
from workflow.store import RUNS_ENV, Store

__all__ = ["register"]

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "optimize",
        help="Phase 4: enter it (gate diagnostics_complete), train the recommended changes on "
        "every seed, test the gain against the baseline and decide (A accept, B iterate, "
        "C revert to Phase 3, D ceiling, budget); rerun after a kill, it resumes",
        example="phasegate optimize myproj --strategy targeted\n"
        "  phasegate optimize myproj --strategy iterative --runs runs/\n"
        "  phasegate optimize myproj --strategy sweep --space configs/space.yaml "
        "--method bayesian --trials 30",
    )
    parser.add_argument("name", help="project name")
    parser.add_argument(
        "--strategy", choices=("auto", *BUILTIN_STRATEGIES), default="auto",
        help="auto: the strategy Phase 3 chose (phase3.strategy), else the project's (a "
        "project may name its own as module:Class); "
        "targeted: apply the HIGH and MEDIUM recommendations at once; iterative: smaller "
        "steps, re-diagnosing after each; sweep: search the recommended knobs",
    )
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: $PHASEGATE_WORKERS, else up to 4)")
    sweep = parser.add_argument_group("sweep", "for --strategy sweep (or auto choosing it)")
    sweep.add_argument("--space", metavar="FILE", default=None,
                       help="search space YAML (default: the one Phase 3 wrote)")
    sweep.add_argument("--method", default=None, metavar="NAME",
                       help="grid, random, bayesian, or your sampler as module:Class "
                            "(default: bayesian)")
    sweep.add_argument("--pruner", default=None, metavar="NAME",
                       help="none, median, asha, hyperband, or your pruner as module:Class "
                            "(default: median)")
    sweep.add_argument("--trials", type=int, default=None, metavar="N",
                       help="trial budget (default: the grid's size, or 20)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument(
        "--runs", metavar="DIR", default=None,
        help=f"root of the run directories (default: ${RUNS_ENV}, else ./runs)",
    )
    parser.add_argument("--by", metavar="WHO", default=None,
                        help="who runs it, for the event log (default: the login name)")
    parser.set_defaults(handler=_optimize)


def _optimize(args: argparse.Namespace) -> int:
    from phases.optimization.phase import optimize

    settings = {k: getattr(args, k) for k in ("method", "pruner", "trials")
                if getattr(args, k) is not None}
    space = None
    if settings or args.space is not None:
        from phases.optimization.sweep import SweepSettings, load_space
        from workflow.io import validate

        if args.strategy not in ("auto", "sweep"):
            raise ConfigError(
                f"--space, --method, --pruner and --trials apply to --strategy sweep, "
                f"not {args.strategy}"
            )
        validate(settings, SweepSettings, source="phasegate optimize")
        if args.space is not None:
            space = load_space(args.space).to_dict()  # a bad space: one line, exit 2
    store = Store.open(args.name, args.runs)
    with store.lock():
        progress = RichProgress(json=args.json)
        outcome = optimize(
            store, args.strategy, who=whoami(args.by), workers=args.workers, progress=progress,
            sweep_settings=settings, space=space,
        )
    if args.json:
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        where = f" Report: {outcome.report}" if outcome.report else ""
        if outcome.refused:
            print(f"refused: {store.name} is back in {outcome.state} (decision "
                  f"{outcome.decision}): {outcome.reason}{where}")
        else:
            print(f"{store.name} is {outcome.state}: decision {outcome.decision}: "
                  f"{outcome.reason}{where}")
    return EXIT_REFUSED if outcome.refused else EXIT_OK
