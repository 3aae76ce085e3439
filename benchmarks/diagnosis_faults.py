"""Fault-injection benchmark of Phase 3 (issue 12): does it name the injected fault, does the
unattended walk repair it, and did each measured gain fall inside its predicted interval?

From a good config on each dataset (the embedded digits; a synthetic 4-class task
made by scikit-learn, benchmarks/diagnosis_plugins.py), one fault is injected at a
time. For each: a project is walked by `phasegate run` to `diagnosed` (baseline, the
default lr range test, trial runs of the leading changes), the first diagnosis is read,
then the walk goes on, unattended, to `optimized`. The clean config is diagnosed the
same way (it should get no high-severity finding). The table gives: the fault, the top
root cause named (the first finding that is a root cause), the first recommendation,
the clean config's val accuracy, the faulty baseline's, the walk's best, whether each
Phase 4 gain measured against a Phase 3 prediction fell inside it; and the totals.

Not a test: minutes of CPU. A subset runs with --faults, --datasets, --seeds, --epochs;
every figure printed says the settings it was measured with.

    python benchmarks/diagnosis_faults.py                      # everything (slow)
    python benchmarks/diagnosis_faults.py --faults lr_high,sgd_no_momentum --seeds 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the plug-ins are imported by module name in the trainer's worker processes too
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: threads only contend
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

PLUGINS = "benchmarks.diagnosis_plugins"
WITHIN = 1.0  # points: "repaired" is within this of the clean config's val accuracy


@dataclass(frozen=True)
class Fault:
    name: str
    changes: dict[str, Any]  # dotted paths patched onto the clean config
    expected: tuple[str, ...]  # the finding ids that name it
    unrepairable: str = ""  # why no config change of this trainer can repair it
    datasets: tuple[str, ...] = ("digits", "synthetic")


FAULTS: tuple[Fault, ...] = (
    Fault("lr_high", {"optimizer.lr": 0.5}, ("lr_too_high",)),
    Fault("lr_low", {"optimizer.lr": 0.0002}, ("lr_too_low",)),
    Fault("sgd_no_momentum", {"optimizer.momentum": 0.0}, ("sgd_no_momentum",)),
    Fault("too_few_epochs", {"training.epochs": 4}, ("not_converged", "underfitting")),
    Fault("too_many_epochs", {"training.epochs": 120, "schedule.name": "none"},
          ("saturated_early", "overfitting"), datasets=("digits",)),
    Fault("model_too_small", {"model.widths": [3]}, ("too_little_capacity",)),
    Fault("heavy_dropout", {"model.dropout": 0.9}, ("heavy_regularization",)),
    Fault("heavy_weight_decay", {"optimizer.weight_decay": 0.1}, ("heavy_regularization",)),
    Fault("huge_batch", {"data.batch_size": 1024}, ("few_steps",)),
    Fault("unnormalized_inputs", {"model.name": f"{PLUGINS}:scaled_mlp",
                                  "model.kwargs": {"input_scale": 255.0}},
          ("input_scale",), unrepairable="the scale is applied in the model's code; the "
          "built-in loader already standardizes every dataset", datasets=("digits",)),
    Fault("frozen_layers", {"model.freeze": ["body"]}, ("frozen_layers",),
          datasets=("digits",)),
    Fault("adam_betas", {"optimizer.name": "adam", "optimizer.lr": 0.003,
                         "optimizer.betas": [0.0, 0.5], "optimizer.weight_decay": 0.0},
          ("adam_betas",), datasets=("digits",)),
    Fault("label_noise", {"data.dataset": f"{PLUGINS}:noisy_digits"}, ("label_noise",),
          unrepairable="40% of the labels, val's included, are wrong: no setting can score "
          "them right", datasets=("digits",)),
)


def clean_config(dataset: str, epochs: int, max_samples: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"dataset": "digits" if dataset == "digits" else
                            f"{PLUGINS}:synthetic", "batch_size": 64}
    if max_samples:
        data["max_samples"] = max_samples
    return {
        "name": f"{dataset}-clean",
        "data": data,
        "model": {"name": "mlp", "widths": [128, 64]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005},
        "schedule": {"name": "cosine"},
        "training": {"epochs": epochs, "monitor": "val_accuracy"},
        "device": "cpu",
    }


def patched(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    from workflow.trainer.config import TrainConfig

    return TrainConfig.model_validate(config).with_changes(changes).model_dump(mode="json")


@dataclass
class Row:
    dataset: str
    fault: str
    expected: tuple[str, ...]
    top_cause: str = "-"
    first_rec: str = "-"
    clean: float | None = None
    baseline: float | None = None
    walk: float | None = None
    high_findings: list[str] = field(default_factory=list)
    held: list[bool] = field(default_factory=list)
    gains: list[str] = field(default_factory=list)
    unrepairable: str = ""
    minutes: float = 0.0
    error: str = ""

    @property
    def named(self) -> bool:
        return self.top_cause in self.expected

    @property
    def repaired(self) -> bool:
        return (self.walk is not None and self.clean is not None
                and self.walk >= self.clean - WITHIN)


def _project(folder: Path, name: str, config: dict[str, Any], seeds: int,
             goal: float | None, iterations: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "baseline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    project = {
        "name": name,
        "baseline": "baseline.yaml",
        "target": {"metric": "val_accuracy", "direction": "maximize",
                   **({"goal": round(goal, 4)} if goal is not None else {})},
        "seeds": list(range(seeds)),
        "fresh_seeds": list(range(100, 100 + max(3, seeds))),
        "min_effect": 0.01,
        "iteration_limit": iterations,
        "probes": ["trials"],
        "probe_steps": 200_000,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def _walk(path: Path, runs: Path, name: str, until: str, workers: int | None) -> Any:
    from phases.pipeline import run_project
    from workflow.store import Store

    run_project(path, runs=runs, until=until, workers=workers)
    return Store.open(name, runs)


def _first_diagnosis(store: Any) -> dict[str, Any]:
    return json.loads((store.run_dir / "phase3" / "findings.json").read_text())


def measure(dataset: str, fault: Fault | None, args: argparse.Namespace, runs: Path,
            clean: float | None) -> Row:
    from phases.diagnostic.record import load_record
    from workflow.facts import read_facts

    name = f"{dataset}-{fault.name if fault else 'clean'}"
    row = Row(dataset, fault.name if fault else "clean", fault.expected if fault else (),
              clean=clean, unrepairable=fault.unrepairable if fault else "")
    started = time.perf_counter()
    config = clean_config(dataset, args.epochs, args.max_samples)
    if fault is not None:
        config = patched(config, fault.changes)
    goal = None if clean is None else max(0.0, (clean - WITHIN) / 100)
    path = _project(runs.parent / "projects" / name, name, config, args.seeds, goal,
                    args.iterations)
    try:
        store = _walk(path, runs, name, "diagnosed", args.workers)
        first = _first_diagnosis(store)
        roots = [f for f in first["findings"] if f["root_cause"]]
        row.top_cause = roots[0]["id"] if roots else "none"
        row.high_findings = [f["id"] for f in first["findings"] if f["severity"] == "high"]
        recs = first["plan"]["recommendations"]
        row.first_rec = recs[0]["title"] if recs else "none"
        facts = read_facts(store)
        summary = facts.baseline.summary("val_accuracy")
        row.baseline = 100 * summary.mean if summary and summary.mean is not None else None
        if fault is not None:
            store = _walk(path, runs, name, "optimized", args.workers)
            facts = read_facts(store)
            best = facts.phase4.best.summary("val_accuracy") if facts.phase4.best else None
            row.walk = 100 * best.mean if best and best.mean is not None else row.baseline
            record = load_record(store, store.run_dir / "phase3")
            row.held = [o.held for o in record.outcomes]
            row.gains = [f"{o.measured:+.1f} in [{o.low:+.1f}, {o.high:+.1f}]"
                         for o in record.outcomes]
    except Exception as exc:  # one fault's failure is a row, not the end of the benchmark
        row.error = f"{type(exc).__name__}: {exc}"[:200]
    row.minutes = (time.perf_counter() - started) / 60
    return row


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| dataset | fault | top root cause | named | first recommendation | clean | faulty "
        "baseline | walk | repaired | gains in interval | min |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        held = f"{sum(row.held)}/{len(row.held)}" if row.held else "none measured"
        repaired = ("yes" if row.repaired else
                    f"no (not by config: {row.unrepairable})" if row.unrepairable else "no")
        if row.fault == "clean":
            repaired = "high findings: " + (", ".join(row.high_findings) or "none")
        lines.append(
            f"| {row.dataset} | {row.fault} | {row.top_cause} | "
            f"{'yes' if row.named else ('-' if row.fault == 'clean' else 'no')} | "
            f"{row.first_rec} | {_pct(row.clean)} | {_pct(row.baseline)} | {_pct(row.walk)} | "
            f"{repaired} | {held} | {row.minutes:.1f} |"
            + (f" error: {row.error}" if row.error else ""))
    return "\n".join(lines)


def totals(rows: list[Row]) -> dict[str, Any]:
    faults = [r for r in rows if r.fault != "clean"]
    cleans = [r for r in rows if r.fault == "clean"]
    held = [h for r in faults for h in r.held]
    return {
        "faults": len(faults),
        "named": sum(r.named for r in faults),
        "repaired": sum(r.repaired for r in faults),
        "repaired_or_explained": sum(r.repaired or bool(r.unrepairable) for r in faults),
        "clean_configs": len(cleans),
        "clean_with_high_findings": sum(bool(r.high_findings) for r in cleans),
        "gains_measured": len(held),
        "gains_inside": sum(held),
        "gains_inside_share": round(sum(held) / len(held), 3) if held else None,
        "errors": sum(bool(r.error) for r in rows),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default="all", help="comma-separated names, or all")
    parser.add_argument("--datasets", default="digits,synthetic")
    parser.add_argument("--seeds", type=int, default=3,
                        help="seeds per arm (a project needs 3 at least; trials use 2)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-samples", type=int, default=None,
                        help="keep a subset of each dataset (the smoke test's tiny run)")
    parser.add_argument("--iterations", type=int, default=3, help="Phase 4's iteration limit")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default=None, help="folder for results.json and table.md")
    args = parser.parse_args(argv)
    wanted = None if args.faults == "all" else set(args.faults.split(","))
    unknown = (wanted or set()) - {f.name for f in FAULTS}
    if args.seeds < 3:
        parser.error("--seeds: a project compares arms on 3 seeds at least")
    if unknown:
        parser.error(f"unknown fault(s) {sorted(unknown)}; known: {[f.name for f in FAULTS]}")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="diagnosis-faults-"))
    out.mkdir(parents=True, exist_ok=True)
    runs = out / "runs"
    rows: list[Row] = []
    for dataset in args.datasets.split(","):
        clean_row = measure(dataset, None, args, runs, None)
        clean_row.clean = clean_row.baseline
        rows.append(clean_row)
        for fault in FAULTS:
            if dataset not in fault.datasets or (wanted is not None and fault.name not in wanted):
                continue
            rows.append(measure(dataset, fault, args, runs, clean_row.baseline))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            _save(out, rows, args)
    result = _save(out, rows, args)
    print(table(rows))
    print(json.dumps(result["totals"], indent=2))
    return result


def _save(out: Path, rows: list[Row], args: argparse.Namespace) -> dict[str, Any]:
    result = {
        "settings": {"seeds": args.seeds, "epochs": args.epochs, "datasets": args.datasets,
                     "faults": args.faults, "max_samples": args.max_samples,
                     "iterations": args.iterations},
        "rows": [{**{k: v for k, v in vars(r).items()}, "named": r.named,
                  "repaired": r.repaired} for r in rows],
        "totals": totals(rows),
    }
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "table.md").write_text(table(rows) + "\n")
    return result


if __name__ == "__main__":
    main()
