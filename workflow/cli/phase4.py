"""`phasegate optimize`: Phase 4 from the command line.

Thin over `phases.optimization.phase.optimize`: take the project's lock, run it with
a rich progress bar per seed, print the decision. Exit 0 when Phase 4 ended
(`optimized`: decision A, D or budget), 1 when it was refused: the entry gate
failed, or decision C sent the project back to `diagnosed`. A decision B never
ends the command: the next attempt starts by itself (see the phase's docstring).

The project file's phase settings (strategy, sweep, workers; workflow.project)
apply, and each flag given overrides its setting for this command. A strategy
or sweep asked for by flag on a project whose Phase 4 is done is refused, naming
`phasegate reopen`: it is never silently ignored.
Nothing here imports torch or the phases until the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from workflow.cli import add_command, add_workers, positive_int, print_json, whoami
from workflow.cli.display import RichProgress
from workflow.errors import EXIT_OK, EXIT_REFUSED, ConfigError, WrongState
from workflow.project import BUILTIN_STRATEGIES
from workflow.store import RUNS_ENV, Store
from workflow.tracking import log_runs

__all__ = ["add_sweep_flags", "register", "sweep_flags"]

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name
SWEEP_FLAGS = ("space", "method", "pruner", "trials", "top_k")


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
    add_workers(parser)
    add_sweep_flags(parser)
    parser.add_argument(
        "--runs", metavar="DIR", default=None,
        help=f"root of the run directories (default: ${RUNS_ENV}, else ./runs)",
    )
    parser.add_argument("--by", metavar="WHO", default=None,
                        help="who runs it, for the event log (default: the login name)")
    parser.set_defaults(handler=_optimize)


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """The sweep's flags; each overrides the project file's `sweep:` setting of its name."""
    sweep = parser.add_argument_group(
        "sweep", "for --strategy sweep (or auto choosing it); each overrides the project "
        "file's sweep: setting")
    sweep.add_argument("--space", metavar="FILE", default=None,
                       help="search space YAML (default: the project file's sweep.space, else "
                            "the one Phase 3 wrote)")
    sweep.add_argument("--method", default=None, metavar="NAME",
                       help="grid, random, bayesian, or your sampler as module:Class "
                            "(default: bayesian)")
    sweep.add_argument("--pruner", default=None, metavar="NAME",
                       help="none, median, asha, hyperband, or your pruner as module:Class "
                            "(default: median)")
    sweep.add_argument("--trials", type=positive_int, default=None, metavar="N",
                       help="trial budget (default: the grid's size, or 20)")
    sweep.add_argument("--top-k", dest="top_k", type=positive_int, default=None, metavar="K",
                       help="the best K trials are re-run on the project's fresh seeds "
                            "(default: 3)")


def sweep_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The sweep flags that were given, as phases.settings.resolve takes them."""
    return {k: getattr(args, k) for k in SWEEP_FLAGS if getattr(args, k) is not None}


def _optimize(args: argparse.Namespace) -> int:
    from phases.optimization.phase import optimize, resolve_strategy
    from phases.settings import resolve
    from workflow.machine import MACHINE

    flags = sweep_flags(args)
    if flags and args.strategy not in ("auto", "sweep"):
        raise ConfigError(
            f"--space, --method, --pruner, --trials and --top-k apply to --strategy sweep, "
            f"not {args.strategy}"
        )
    store = Store.open(args.name, args.runs)
    settings = resolve(store.project, workers=args.workers, **flags)
    state = store.current
    if MACHINE.is_past(state, "optimize") and (args.strategy != "auto" or flags):
        # asked for a strategy or a sweep on a project whose Phase 4 is done: never ignored
        asked = f"--strategy {args.strategy}" if args.strategy != "auto" else "the sweep flags"
        reopen = (f"phasegate reopen {store.name} --phase 4, then run this again"
                  if state == "optimized" else MACHINE.next_command(state, store.facts,
                                                                     store.name))
        raise WrongState(f"Phase 4 of {store.name} is done (it is {state}), so {asked} would "
                         f"change nothing. Next: {reopen}")
    if flags and state in MACHINE.runs_in("optimize"):
        chosen = resolve_strategy(store, args.strategy)
        if chosen != "sweep":  # a sweep flag with another strategy would be ignored: refuse
            raise ConfigError(
                f"--space, --method, --pruner, --trials and --top-k apply to a sweep, but "
                f"Phase 4 of {store.name} runs {chosen} ({args.strategy}); add --strategy "
                "sweep to search instead"
            )
    with store.lock():
        progress = RichProgress(json=args.json, metric=store.project.target.measure)
        outcome = optimize(
            store, args.strategy, who=whoami(args.by), workers=settings.workers,
            progress=progress, sweep_settings=dict(settings.sweep), space=settings.space,
        )
    log_runs(store)  # sweep trials, and the attempt's decision as a tag (workflow.tracking)
    following = MACHINE.next_command(store.current, store.facts, store.name)
    if args.json:
        print_json({**outcome.to_dict(), "next": following})
    else:
        where = f" Report: {outcome.report}" if outcome.report else ""
        if outcome.refused:
            print(f"refused: {store.name} is back in {outcome.state} (decision "
                  f"{outcome.decision}): {outcome.reason}{where}")
        else:
            print(f"{store.name} is {outcome.state}: decision {outcome.decision}: "
                  f"{outcome.reason}{where}")
        print(f"next: {following}")
    return EXIT_REFUSED if outcome.refused else EXIT_OK
