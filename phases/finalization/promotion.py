"""Promotion: the finalized model and its reports, copied to `runs/<p>/promoted/` with a manifest.

`promote` takes the machine's `promote` transition, which refuses unless the
`finalization_complete` gate passes and no artifact of an earlier gate changed
since that gate passed (a stale gate). Only then are the files copied, into a
staging folder renamed into place, with `manifest.json`: each file's sha256
and size, every gate's record and current result, the chosen training config
and the project config, and the versions of phasegate, torch and Python.

Before anything moves, every file the model card reports on (every file the
export wrote, in whatever format: `phase5.export`; the test predictions and
metrics, the report, the chosen config, the baseline model) is checked
against the sha256 Phase 5 recorded when it evaluated and reported
(`phase5.files`, and the models the test look opened on): a file that changed
or went missing refuses the promotion, naming it, because the card would
describe another model.

Promoting a promoted project changes nothing and says so. A promotion killed
after the transition but before the copy completes it on the next call.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from workflow.checks import exported_names
from workflow.errors import GateFailed, StateError
from workflow.facts import read_facts
from workflow.gates import check_gate
from workflow.inputs import changed_files
from workflow.io import atomic_write_json, read_json, sha256_file
from workflow.machine import MACHINE, require, take
from workflow.safe_yaml import read_yaml
from workflow.store import Store, now
from workflow.trainer.export import versions

__all__ = ["MANIFEST", "PROMOTED_DIR", "Promotion", "promote"]

PROMOTED_DIR = "promoted"
MANIFEST = "manifest.json"
TRANSITION = "promote"
ACTION = "promote"  # the phase graph's name for this work

MODEL_DIR = "phase5/model/"
# each phase's reports, copied with the files their Markdown links to (plots), when they exist
REPORT_FILES = {
    "phase3": ("diagnostic_report.md", "diagnostic_report.json", "findings.json"),
    "phase4": ("optimization_results.md", "optimization_results.json",
               "optimization_config.yaml"),
    "phase5": ("finalization_report.md", "finalization_report.json", "test_metrics.json",
               "test_predictions.csv"),
}
REQUIRED = ("reports/phase5/finalization_report.md",)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Promotion:
    project: str
    already: bool  # promoted before this call: nothing was done
    folder: Path
    manifest: dict[str, Any]


def promote(store: Store, *, who: str = "phasegate", why: str = "") -> Promotion:
    """Promote a finalized project (see the module docstring); a promoted one is a no-op."""
    folder = store.run_dir / PROMOTED_DIR
    with store.lock():
        state = store.current
        if state == "promoted" and (folder / MANIFEST).is_file():
            return Promotion(store.name, True, folder, read_json(folder / MANIFEST))
        if state != "promoted":
            require(store, ACTION)
        _verify(store, who)
        if state != "promoted":
            take(store, TRANSITION, who, why or "all three gates pass")
        manifest = _copy(store, folder, who)
        store.append_event("promoted", {"who": who, "folder": str(folder),
                                        "files": len(manifest["files"])})
    return Promotion(store.name, False, folder, manifest)


def _verify(store: Store, who: str) -> None:
    """Refuse unless every file the card reports on is the one Phase 5 evaluated and reported."""
    phase5 = read_facts(store).phase5
    if phase5.files is None:
        problem = (f"Phase 5 recorded no hashes of the files its model card reports on "
                   f"(phase5.files); run phasegate finalize {store.name} to record them")
        changes = []
    else:
        recorded = dict(phase5.files)
        if phase5.test_look is not None:  # the models as the test look opened on them
            recorded.update({m["file"]: m["sha256"] for m in phase5.test_look.models.values()})
        changes = [c.describe() for c in changed_files(store.run_dir, recorded)]
        problem = ""
    if not changes and not problem:
        return
    error = GateFailed(
        f"cannot promote {store.name}: "
        + (problem or "files changed after Phase 5 evaluated and reported on them: "
           + "; ".join(changes) + "; restore them (the promoted model must be the one the "
           "model card reports on), or finalize a new project"))
    store.append_event("refused", {"transition": TRANSITION, "from": store.current,
                                   "reason": str(error), "who": who})
    raise error


def _copy(store: Store, folder: Path, who: str) -> dict[str, Any]:
    run_dir = store.run_dir
    staging = run_dir / f".{PROMOTED_DIR}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    # every file the export wrote, in whatever format (phase5.export: ONNX, a state dict...)
    exported = exported_names(read_facts(store).phase5.export)
    pairs = [(name, f"model/{name.removeprefix(MODEL_DIR)}") for name in exported]
    pairs.append(("project.yaml", "config/project.yaml"))
    for phase, names in REPORT_FILES.items():
        for name in names:
            pairs.append((f"{phase}/{name}", f"reports/{phase}/{name}"))
            if name.endswith(".md") and (run_dir / phase / name).is_file():
                pairs += [(f"{phase}/{link}", f"reports/{phase}/{link}")
                          for link in _linked(run_dir / phase / name)]
    files = {}
    for source, name in dict.fromkeys(pairs):
        path = run_dir / source
        if not path.is_file():
            continue
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        digest = sha256_file(target)
        if digest != sha256_file(path):
            raise StateError(f"{path} changed while it was copied; promote again")
        files[name] = {"sha256": digest, "bytes": target.stat().st_size, "source": source}
    required = [*REQUIRED, *(name for _, name in pairs[:len(exported)])]
    missing = [name for name in required if name not in files]
    if missing:
        raise StateError(f"{run_dir}: {', '.join(missing)} missing; it cannot be promoted")
    state = store.load_state()
    gates = {}
    for gate in MACHINE.gates:
        record = state.gates.get(gate)
        result = check_gate(store, gate)
        gates[gate] = {
            "passed": record.model_dump(mode="json") if record else None,
            "status_now": result.status,
            "items": [{"id": i.id, "status": i.status, "reason": i.reason}
                      for i in result.items],
        }
    phase5 = read_facts(store).phase5
    config_file = Path(phase5.config_file or "")
    config = read_yaml(config_file) if config_file.is_file() else None
    manifest = {
        "project": store.name,
        "promoted_at": now(),
        "promoted_by": who,
        "files": files,
        "gates": gates,
        "training_config": config,
        "training_config_file": str(config_file),
        "project_config": store.project.model_dump(mode="json"),
        **{name: fact.model_dump(mode="json") if fact is not None else {}
           for name, fact in (("test", phase5.test), ("mcnemar", phase5.mcnemar),
                              ("selection", phase5.selection))},
        "versions": versions(),
    }
    atomic_write_json(staging / MANIFEST, manifest)
    old = run_dir / f".{PROMOTED_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def _linked(report: Path) -> list[str]:
    """The relative files a Markdown report links to (its plots), inside its folder."""
    links = []
    for target in _LINK.findall(report.read_text()):
        pure = PurePosixPath(target)
        if "://" in target or pure.is_absolute() or ".." in pure.parts:
            continue
        if (report.parent / pure).is_file():
            links.append(pure.as_posix())
    return links
