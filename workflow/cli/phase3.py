"""`phasegate baseline` and `phasegate diagnose`: Phase 3 from the command line.

Thin over `phases.diagnostic.phase`: parse, call, print. Training and the
probes import torch only when they run, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workflow.cli import add_command, add_workers, print_json, whoami
from workflow.errors import EXIT_OK, WrongState
from workflow.facts import read_facts
from workflow.machine import MACHINE
from workflow.store import RUNS_ENV, Store
from workflow.tracking import log_runs

__all__ = ["register"]

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    baseline = add_command(
        subparsers,
        "baseline",
        help="train the project's baseline config on every project seed (finished seeds are "
        "not trained again), or import your own histories, and record the baseline facts; "
        "allowed until Phase 4 starts (a rerun after diagnose asks for diagnose again)",
        example="phasegate baseline myproj\n"
        "  phasegate baseline myproj --import my_runs/   # my_runs/seed-0/history.csv, ...\n"
        "  phasegate baseline myproj --import lightning_logs/   # seed-0/version_0/metrics.csv",
    )
    baseline.add_argument("name", help="project name")
    baseline.add_argument(
        "--import", dest="import_dir", type=Path, metavar="DIR", default=None,
        help="take DIR/seed-<n>/ instead of training: a history.csv (the trainer's columns: "
        "epoch, train_loss, val_loss and the target metric at least), a Lightning CSVLogger "
        "folder (metrics.csv below it) or a TensorBoard log folder (event files below it)",
    )
    baseline.add_argument(
        "--format", dest="import_format", default="auto",
        choices=("auto", "phasegate", "lightning", "tensorboard"),
        help="what DIR's seed folders hold (default: auto, found from their files)",
    )
    add_workers(baseline)
    _add_common(baseline)
    baseline.set_defaults(handler=_baseline)

    diagnose = add_command(
        subparsers,
        "diagnose",
        help="Phase 3: diagnose the baseline, write runs/NAME/phase3/ (report, findings, plots, "
        "config preview), record the facts and move the project to diagnosed; rerun on a "
        "diagnosed project, it writes everything again from the same runs",
        example="phasegate diagnose myproj --probe lr,batch",
    )
    diagnose.add_argument("name", help="project name")
    diagnose.add_argument(
        "--probe", default=None, metavar="LIST",
        help="active probes to run first, comma-separated: lr (a learning-rate range test), "
        "batch (a batch-size throughput probe); default: the project file's probes",
    )
    _add_common(diagnose)
    diagnose.set_defaults(handler=_diagnose)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", metavar="DIR", default=None,
        help=f"root of the run directories (default: ${RUNS_ENV}, else ./runs)",
    )
    parser.add_argument("--by", metavar="WHO", default=None,
                        help="who runs it, for the event log (default: the login name)")


def _baseline(args: argparse.Namespace) -> int:
    from phases.diagnostic.phase import run_baseline
    from workflow.cli.display import RichProgress

    store = Store.open(args.name, args.runs)
    state = store.current
    if state not in MACHINE.runs_in("diagnose"):  # refused before any progress bar is drawn
        raise WrongState(
            f"cannot run the baseline of {store.name}: it is {state}, and the baseline is "
            f"fixed once Phase 4 has started. Next: "
            f"{MACHINE.next_command(state, store.facts, store.name)}"
        )
    who = whoami(args.by)
    if args.import_dir is not None:
        from workflow.imports import convert_import

        # Lightning CSVLogger and TensorBoard folders become phasegate's history.csv first
        folder = convert_import(args.import_dir, store.run_dir / "baseline-import",
                                args.import_format)
        evidence = run_baseline(store, import_dir=folder, who=who)
    else:
        workers = args.workers if args.workers is not None else store.project.workers
        evidence = run_baseline(store, workers=workers,
                                progress=RichProgress(json=args.json), who=who)
    log_runs(store)  # what live tracking left (workflow.tracking)
    facts = read_facts(store)
    baseline = facts.baseline
    following = MACHINE.next_command(store.current, store.facts, store.name)
    if facts.phase3.stale:  # a re-run baseline: its diagnosis no longer counts
        following = f"phasegate diagnose {store.name} again"
    if args.json:
        print_json({**baseline.model_dump(mode="json", exclude_unset=True), "next": following})
        return EXIT_OK
    target = evidence.target
    summary = baseline.summary(target.name)
    if summary is not None and summary.mean is not None:
        score = f"; {target.name} {target.format(summary.mean)} ± {target.format(summary.std)}"
    else:
        score = f"; no usable seed, so no {target.name}"
    print(
        f"baseline of {store.name} ({baseline.source}): {baseline.seeds} of {baseline.runs} seeds "
        f"usable, {baseline.diverged} diverged{score}. next: {following}"
    )
    return EXIT_OK


def _diagnose(args: argparse.Namespace) -> int:
    from phases.diagnostic.phase import run_diagnose
    from phases.settings import resolve

    store = Store.open(args.name, args.runs)
    given = None if args.probe is None else [p.strip() for p in args.probe.split(",")
                                             if p.strip()]
    probes = list(resolve(store.project, probes=given).probes)
    diagnosis, report = run_diagnose(store, probes=probes, who=whoami(args.by))
    log_runs(store)  # the trial runs, if the project tracks its runs
    facts = read_facts(store).phase3.model_dump(mode="json", exclude_unset=True)
    following = MACHINE.next_command(store.current, store.facts, store.name)
    if args.json:
        print_json({**facts, "report": str(report), "state": store.current, "next": following})
        return EXIT_OK
    plan = diagnosis.plan
    print(f"{store.name}: {len(diagnosis.findings)} findings, now {store.current}")
    for finding in diagnosis.findings:
        role = "" if finding.root_cause else (
            f" (symptom of {finding.explained_by})" if finding.explained_by else " (contributing)")
        print(f"  [{finding.severity}] {finding.id}{role}: {finding.text}")
    for rec in plan.recommendations:
        low, high = rec.expected_gain
        print(f"  {rec.id} {rec.priority}: {rec.title} (+{low:g} to +{high:g} points)")
    print(f"strategy: {plan.strategy} ({plan.strategy_reason}); potential {plan.potential:.1f} "
          f"points")
    print(f"wrote {report.parent}/; next: {following}")
    return EXIT_OK
