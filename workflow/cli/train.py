"""`phasegate train`: one training run of a config, with a live progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workflow.cli import add_command, print_json
from workflow.cli.display import RichProgress
from workflow.errors import EXIT_OK, EXIT_REFUSED


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "train",
        help="Train one config with one seed and write the run (history, metrics, checkpoints).",
        example="phasegate train configs/baseline.yaml --seed 42 --out runs/demo",
    )
    parser.add_argument("config", type=Path, help="training config (YAML)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the config's)")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--json", action="store_true",
                        help="print metrics.json's content (the progress bar goes to stderr)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from workflow.errors import UsageError
    from workflow.trainer import fit
    from workflow.trainer.config import check_seed, load_train_config
    from workflow.trainer.result import RunStatus

    config = load_train_config(args.config)
    try:  # 2**64 or -5 would crash the generators' seeding later, with a traceback
        seed = config.seed if args.seed is None else check_seed(args.seed, "--seed")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    progress = RichProgress(json=args.json)
    started = False

    def report(epoch: int, row: dict[str, float]) -> None:
        # the bar appears with the first epoch: a run refused before it (a bad --out) shows
        # its one error line alone
        nonlocal started
        if not started:
            progress.training(config.name, [seed], [], config.training.epochs)
            started = True
        progress.epoch(seed, epoch, row)

    try:
        result = fit(config, seed, args.out, report=report)
        if started:
            progress.seed_done(seed, result.status.value,
                               int(result.extra.get("epochs_run", 0)))
    finally:
        progress.end_training()
    if args.json:
        print_json(result.to_metrics())
    if result.status is RunStatus.DIVERGED:
        print(f"phasegate: run diverged: {result.stop_reason}; wrote {args.out}", file=sys.stderr)
        return EXIT_REFUSED
    if not args.json:
        best = result.best[result.monitor]
        print(
            f"{result.status.value}: best {result.monitor} {best:.4f} at epoch {result.best_epoch} "
            f"({result.extra['epochs_run']} epochs, {result.wall_time_s:.1f}s); wrote {args.out}"
        )
    return EXIT_OK
