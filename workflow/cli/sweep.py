"""`phasegate sweep worker`: join a sweep's study from any host and run its trials.

The study (created by `phasegate optimize --strategy sweep`) holds the search
space, the seeds, the monitored metric and the budget. What a worker runs (the
trainer and the base config) comes from this host, never from the database:
`--project FILE` names the project file whose trainer and baseline config the
worker runs (`--config FILE` another base config), and a study that names other
code is refused in one line. A worker asks for trials until the study's budget
is spent; several workers on several machines share one PostgreSQL URL.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workflow.cli import add_command, print_json
from workflow.errors import EXIT_OK

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name

EXAMPLE = ("phasegate sweep worker --storage postgresql://user@db-host/sweeps --study myproj "
           "--project configs/quickstart.yaml")


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    sweep = add_command(
        subparsers,
        "sweep",
        help="work on a hyperparameter sweep's shared study (see `sweep worker`)",
        example=EXAMPLE,
    )
    actions = sweep.add_subparsers(dest="sweep_command", metavar="ACTION", required=True)
    worker = add_command(
        actions,
        "worker",
        help="join an existing sweep study and run its trials until its budget is spent",
        example=EXAMPLE,
    )
    worker.add_argument(
        "--storage",
        required=True,
        metavar="URL",
        help="the study's storage: an SQLAlchemy URL (postgresql://...) or a journal file",
    )
    worker.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    worker.add_argument(
        "--trials", type=int, default=None, metavar="N", help="stop after N trials of this worker"
    )
    worker.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for this worker's trial folders (default: the one the study names)",
    )
    worker.add_argument(
        "--project", type=Path, default=None, metavar="FILE",
        help="the project file on this host: its trainer and baseline config are what this "
        "worker runs (needed when the study names a trainer, dataset or model of your own)",
    )
    worker.add_argument(
        "--config", type=Path, default=None, metavar="FILE",
        help="the sweep's base config on this host, when it is not the project's baseline",
    )
    worker.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    from phases.optimization.sweep.trust import LocalRun
    from phases.optimization.sweep.worker import work
    from workflow.cli.display import RichProgress
    from workflow.errors import ConfigError, UsageError

    if args.trials is not None and args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, but got {args.trials}")
    if args.config is not None and args.project is None:
        raise UsageError("--config needs --project (the trainer comes from the project file)")
    local = LocalRun.from_project(args.project, args.config) if args.project else None
    summary = work(
        args.storage, args.study, max_trials=args.trials, trial_root=args.out,
        progress=RichProgress(json=args.json), local=local,
    )
    if args.json:
        print_json({"study": args.study, "trials_run": summary.trials_run,
                    "stop_reason": summary.stop_reason})
    else:
        print(f"worker done: {summary.trials_run} trials run; {summary.stop_reason}")
    return EXIT_OK
