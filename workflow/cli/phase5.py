"""`phasegate finalize`, `phasegate promote` and `phasegate run`: Phase 5 and the whole walk.

Thin over `phases.finalization` and `phases.pipeline`: parse, call, print.
Nothing here imports torch at import time, so `--help` stays fast.

`run` never signs the manual `model_card_reviewed` item by itself: without
`--sign-off NAME` it stops at `finalized` with exit 1 and says what to sign;
with it, it records NAME's sign-off once the model card exists (covering the
card's sha256, noting it was given to `run`), prints what was signed and
promotes. A final model below the project's goal is promoted only with
`--waive-goal REASON` (recorded as the `goal_waiver` item: who and why); `run`
then says "promoted below goal". The project file's phase settings apply, and
`run`'s flags override them (phases.settings).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from workflow.cli import add_command, add_workers, print_json, whoami
from workflow.cli.display import RichProgress
from workflow.cli.phase4 import add_sweep_flags, sweep_flags
from workflow.errors import EXIT_OK, EXIT_REFUSED
from workflow.machine import next_step
from workflow.project import BUILTIN_STRATEGIES
from workflow.store import RUNS_ENV, Store

__all__ = ["register"]

Subparsers = argparse._SubParsersAction  # argparse gives the type no public name


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    finalize = add_command(
        subparsers, "finalize",
        help="Phase 5: train the chosen config on every seed, keep the median seed, look at the "
        "test set once (final model against the baseline, McNemar), export the model "
        "(the trainer's export; the built-in writes a state dict and TorchScript), write "
        "phase5/finalization_report.md and move the "
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
        "  phasegate run configs/quickstart.yaml --until phase3    # baseline and diagnosis only\n"
        "  phasegate run myproject.yaml --strategy sweep --space space.yaml --trials 8 "
        "--sign-off \"$USER\"",
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
    run.add_argument(
        "--waive-goal", metavar="REASON", default=None,
        help="promote even if the final model misses the project's goal, recording this "
        "reason and who waived it (--sign-off NAME, else --by) as goal_waiver; without it a "
        "model below the goal stops at finalized",
    )
    phases = run.add_argument_group(
        "phase settings", "each overrides the project file's setting of the same name")
    phases.add_argument("--probe", default=None, metavar="LIST",
                        help="Phase 3's active probes, comma-separated: lr, batch")
    phases.add_argument("--strategy", choices=BUILTIN_STRATEGIES, default=None,
                        help="Phase 4's strategy (default: the project's, else Phase 3's)")
    add_sweep_flags(run)
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
        add_workers(parser)


def _finalize(args: argparse.Namespace) -> int:
    from phases.finalization.phase import run_finalize
    from workflow.facts import read_facts

    store = Store.open(args.name, args.runs)
    workers = args.workers if args.workers is not None else store.project.workers
    result = run_finalize(store, progress=RichProgress(json=args.json), who=whoami(args.by),
                          workers=workers)
    _track(store)
    phase5 = read_facts(store).phase5
    test = phase5.test.model_dump(mode="json") if phase5.test else {}
    mcnemar = phase5.mcnemar.model_dump(mode="json") if phase5.mcnemar else {}
    following = _next(store)
    if args.json:
        print_json({"project": store.name, "state": store.current, "already": result.already,
                    "report": str(result.report), "model": str(result.model_dir),
                    "test": test, "mcnemar": mcnemar, "next": following})
        return EXIT_OK
    done = "was already finalized" if result.already else "is finalized"
    if test.get("final_accuracy") is not None:
        print(f"{store.name} {done}: test accuracy {100 * test['final_accuracy']:.2f}% (final) "
              f"vs {100 * test['baseline_accuracy']:.2f}% (baseline) on {test['n']} examples; "
              f"McNemar p = {mcnemar['p_value']:.4g}")
    else:  # another task: its measure, and the paired test where one applies
        paired = phase5.paired
        compared = f"; paired p = {paired.p_value:.4g}" if paired is not None else ""
        print(f"{store.name} {done}: test {test.get('measure')} {test.get('final_value')} "
              f"(final) vs {test.get('baseline_value')} (baseline) on {test['n']} examples"
              f"{compared}")
    print(f"report: {result.report}\nmodel: {result.model_dir}")
    print(f"next: {following}")
    return EXIT_OK


def _track(store: Store) -> list[str]:
    """Log the project's runs not logged yet, when its file asks for tracking; how many runs
    each backend has logged, live while they trained or now."""
    from workflow.tracking import log_runs, logged_counts

    log_runs(store)
    return [f"{backend} {n}" for backend, n in logged_counts(store).items()]


def _next(store: Store) -> str:
    """What moves the project on: in finalized, the sign-offs the promotion gate waits for."""
    following = next_step(store)
    if store.current == "finalized" and "gate sign" in following:
        card = store.run_dir / "phase5/finalization_report.md"
        return f"read the model card ({card}), then {following}"
    return following


def _promote(args: argparse.Namespace) -> int:
    from phases.finalization.promotion import promote

    store = Store.open(args.name, args.runs)
    result = promote(store, who=whoami(args.by))
    if args.json:
        print_json({"project": store.name, "already": result.already,
                    "folder": str(result.folder), "manifest": result.manifest})
        return EXIT_OK
    if result.already:
        print(f"{store.name} is already promoted (at {result.manifest.get('promoted_at')}); "
              f"nothing to do: {result.folder}")
    else:
        print(f"{store.name} is promoted: {len(result.manifest['files'])} files with their "
              f"sha256 in {result.folder / 'manifest.json'}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from phases.pipeline import run_project, stop_state
    from workflow.pool import use_devices
    from workflow.project import load_project

    stop_state(args.until)  # a bad --until is bad input before anything starts
    settings = sweep_flags(args)
    if args.strategy is not None:
        settings["strategy"] = args.strategy
    if args.probe is not None:
        settings["probes"] = [p.strip() for p in args.probe.split(",") if p.strip()]
    project = load_project(args.project)
    metric = project.target.measure  # the sweep names its best trial
    use_devices(project.devices)
    outcome = run_project(args.project, runs=args.runs, until=args.until,
                          sign_off=args.sign_off, waive_goal=args.waive_goal,
                          who=whoami(args.by), workers=args.workers,
                          progress=RichProgress(json=args.json, metric=metric),
                          settings=settings)
    tracked = _track(Store.open(outcome.project, args.runs))
    if args.json:
        print_json(outcome.to_dict())
    else:
        print(f"{outcome.project} is {outcome.state} ({outcome.word}): {outcome.reason}")
        if tracked:
            print(f"  tracked runs: {', '.join(sorted(tracked))}")
        for line in outcome.signed:
            print(f"  signed: {line}")
        for phase, path in outcome.reports.items():
            print(f"  {phase} report: {path}")
        if outcome.promoted is not None:
            print(f"  promoted model: {outcome.promoted / 'model'} "
                  f"(manifest: {outcome.promoted / 'manifest.json'})")
        else:
            print(f"  promoted model: none yet (run directory: {outcome.run_dir})")
            print(f"  next: {outcome.next}")
    return EXIT_REFUSED if outcome.status == "refused" else EXIT_OK
