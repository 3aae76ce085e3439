"""`phasegate finalize`, `phasegate promote` and `phasegate run`: Phase 5 and the whole walk.

Thin over `phases.finalization` and `phases.pipeline`: parse, call, print.
Nothing here imports torch at import time, so `--help` stays fast.

`run` never signs the manual `model_card_reviewed` item by itself: without
`--sign-off NAME` it stops at `finalized` with exit 1 and says what to sign;
with it, it records NAME's sign-off (noting it was given to `run`) and promotes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workflow.cli import add_command, whoami
from workflow.errors import EXIT_OK, EXIT_REFUSED
from workflow.store import RUNS_ENV, Store

__all__ = ["RichRunProgress", "register"]

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    finalize = add_command(
        subparsers, "finalize",
        help="Phase 5: train the chosen config on every seed, keep the median seed, look at the "
        "test set once (final model against the baseline, McNemar), export the model "
        "(state dict and TorchScript), write phase5/finalization_report.md and move the "
        "project to finalized",
        example="phasegate finalize myproj",
    )
    finalize.add_argument("name", help="project name")
    _add_common(finalize)
    finalize.set_defaults(handler=_finalize)

    promote = add_command(
        subparsers, "promote",
        help="promote a finalized project whose three gates pass and none is stale: copy the "
        "model and reports into runs/NAME/promoted/ with manifest.json; promoting twice "
        "changes nothing",
        example="phasegate promote myproj",
    )
    promote.add_argument("name", help="project name")
    _add_common(promote, workers=False)
    promote.set_defaults(handler=_promote)

    run = add_command(
        subparsers, "run",
        help="walk a project from its baseline to promoted: init (or reuse) its run directory, "
        "train and diagnose the baseline, optimize, finalize and promote, stopping where a "
        "gate or decision says no (exit 1); rerun after an interruption, it resumes. The "
        "model card's sign-off is never given silently: pass --sign-off NAME, or the run "
        "stops at finalized saying what to sign",
        example="phasegate run configs/quickstart.yaml --sign-off \"$USER\"\n"
        "  phasegate run configs/quickstart.yaml --until phase3    # baseline and diagnosis only",
    )
    run.add_argument("project", type=Path, metavar="PROJECT.yaml", help="project file")
    run.add_argument(
        "--until", metavar="PHASE", default=None,
        help="stop once the project reaches PHASE: baseline, phase3 (diagnosed), phase4 "
        "(optimized), phase5 (finalized) or promoted",
    )
    run.add_argument(
        "--sign-off", metavar="NAME", default=None,
        help="who signs finalization_complete/model_card_reviewed (that they read the model "
        "card) so the run can promote; without it the run stops at finalized",
    )
    _add_common(run)
    run.set_defaults(handler=_run)


def _add_common(parser: argparse.ArgumentParser, *, workers: bool = True) -> None:
    parser.add_argument(
        "--runs", metavar="DIR", default=None,
        help=f"root of the run directories (default: ${RUNS_ENV}, else ./runs)",
    )
    parser.add_argument("--by", metavar="WHO", default=None,
                        help="who runs it, for the event log (default: the login name)")
    if workers:
        parser.add_argument("--workers", type=int, default=None,
                            help="worker processes (default: $PHASEGATE_WORKERS, else up to 4)")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")




def _finalize(args: argparse.Namespace) -> int:
    from phases.pipeline import QuietRunProgress, RunProgress, finalize

    store = Store.open(args.name, args.runs)
    progress: RunProgress = QuietRunProgress() if args.json else RichRunProgress()
    result = finalize(store, progress=progress, who=whoami(args.by), workers=args.workers)
    test = store.get("phase5.test", {})
    mcnemar = store.get("phase5.mcnemar", {})
    if args.json:
        print(json.dumps({"project": store.name, "state": store.current, "already": result.already,
                          "report": str(result.report), "model": str(result.model_dir),
                          "test": test, "mcnemar": mcnemar}, indent=2))
        return EXIT_OK
    done = "was already finalized" if result.already else "is finalized"
    print(f"{store.name} {done}: test accuracy {100 * test['final_accuracy']:.2f}% (final) vs "
          f"{100 * test['baseline_accuracy']:.2f}% (baseline) on {test['n']} examples; McNemar "
          f"p = {mcnemar['p_value']:.4g}")
    print(f"report: {result.report}\nmodel: {result.model_dir}")
    print(f"next: read the model card, then phasegate gate sign finalization_complete "
          f"model_card_reviewed --project {store.name} --by NAME && phasegate promote "
          f"{store.name}")
    return EXIT_OK


def _promote(args: argparse.Namespace) -> int:
    from phases.finalization.promotion import promote

    store = Store.open(args.name, args.runs)
    result = promote(store, who=whoami(args.by))
    if args.json:
        print(json.dumps({"project": store.name, "already": result.already,
                          "folder": str(result.folder), "manifest": result.manifest}, indent=2))
        return EXIT_OK
    if result.already:
        print(f"{store.name} is already promoted (at {result.manifest.get('promoted_at')}); "
              f"nothing to do: {result.folder}")
    else:
        print(f"{store.name} is promoted: {len(result.manifest['files'])} files with their "
              f"sha256 in {result.folder / 'manifest.json'}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from phases.pipeline import QuietRunProgress, RunProgress, run_project, stop_state

    stop_state(args.until)  # a bad --until is bad input before anything starts
    progress: RunProgress = QuietRunProgress() if args.json else RichRunProgress()
    outcome = run_project(args.project, runs=args.runs, until=args.until,
                          sign_off=args.sign_off, who=whoami(args.by), workers=args.workers,
                          progress=progress)
    if args.json:
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        word = {"promoted": "done", "stopped": "stopped", "refused": "refused"}[outcome.status]
        print(f"{outcome.project} is {outcome.state} ({word}): {outcome.reason}")
        for phase, path in outcome.reports.items():
            print(f"  {phase} report: {path}")
        if outcome.promoted is not None:
            print(f"  promoted model: {outcome.promoted / 'model'} "
                  f"(manifest: {outcome.promoted / 'manifest.json'})")
        else:
            print(f"  promoted model: none yet (run directory: {outcome.run_dir})")
    return EXIT_REFUSED if outcome.status == "refused" else EXIT_OK


class RichRunProgress:
    """The walk on a terminal: one line per phase and step, a bar per seed over its epochs."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)
        self.bars: Any = None
        self.tasks: dict[int, Any] = {}
        self.finished: set[int] = set()

    def step(self, phase: str, text: str) -> None:
        self.console.print(f"[bold cyan]{phase}[/] · {text}")

    def training(self, label: str, seeds: Sequence[int], done: Sequence[int], epochs: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.end_training()
        self.bars = Progress(
            TextColumn("  [bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), console=self.console, transient=False,
        )
        self.tasks = {
            seed: self.bars.add_task(
                f"{label} seed {seed}", total=epochs, completed=epochs if seed in done else 0,
                metrics="finished earlier" if seed in done else "")
            for seed in seeds
        }
        self.bars.start()

    def epoch(self, seed: int, epoch: int, row: Mapping[str, float]) -> None:
        # a worker's last epoch may arrive after its seed was reported done
        if self.bars is None or seed not in self.tasks or seed in self.finished:
            return
        metrics = (f"train_loss {row.get('train_loss', float('nan')):.3f}  "
                   f"val_acc {row.get('val_accuracy', float('nan')):.3f}")
        self.bars.update(self.tasks[seed], completed=epoch, metrics=metrics)

    def seed_done(self, seed: int, status: str, epochs: int) -> None:
        if self.bars is None or seed not in self.tasks:
            return
        self.finished.add(seed)
        self.bars.update(self.tasks[seed], total=max(1, epochs), completed=max(1, epochs),
                         metrics=status)

    def end_training(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None
            self.tasks, self.finished = {}, set()

    def note(self, text: str) -> None:
        self.console.print(f"  {text}", markup=False)
