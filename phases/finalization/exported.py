"""What Phase 5's export wrote, as a fact, and the gate's check that all of it is still there.

Any trainer packages its model its own way: the built-in writes a state dict and
TorchScript; a user's `export` may write ONNX, a `torch.export` program, a plain
state dict, or several. `export_fact` reads what landed in `phase5/model/`,
names each file's format from its bytes (`file_format`: a TorchScript archive,
a `torch.export` archive, a `torch.save` pickle, ONNX, safetensors), hashes it,
and returns the `ExportFact` Phase 5 records as `phase5.export` and writes as
`phase5/export.json`.

The gate `finalization_complete` checks exactly those files (`exported_files`,
its `model_saved` item): each must exist, be non-empty and have the sha256 it
had when the export wrote it, so a missing or changed file fails the gate,
named; promotion checks them again through `phase5.files`. No format is
required: a state dict alone passes as TorchScript does.

Torch-free: `status` and `gate check` run this check.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow.errors import PluginError
from workflow.facts import ExportedFileFact, ExportFact
from workflow.inputs import relative
from workflow.io import sha256_file

__all__ = ["BUILTIN_FILES", "export_fact", "exported_files", "exported_names", "file_format"]

# what the built-in export writes, and what an export recorded before files were is checked on
BUILTIN_FILES = ("phase5/model/model.pt", "phase5/model/model_torchscript.pt")


def file_format(path: Path) -> str:
    """The format of an exported file, from its bytes (its suffix where the bytes cannot say)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".safetensors":
        return "safetensors"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        # TorchScript archives hold their code and constants beside the pickled weights
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("/archive_format") for n in names):
            return "torch.export"
        if any(n.endswith("/data.pkl") for n in names):
            return "torch.save"
    return "torch.export" if suffix == ".pt2" else "other"


def export_fact(run_dir: Path, model_dir: Path, *, method: str,
                manifest: Mapping[str, Any] | None, seed: int) -> ExportFact:
    """Every file the export wrote into `model_dir`, with its format and sha256.

    An export that wrote nothing is the trainer's error (a `PluginError` naming it).
    """
    files = {
        relative(run_dir, path): ExportedFileFact(format=file_format(path),
                                                  bytes=path.stat().st_size,
                                                  sha256=sha256_file(path))
        for path in sorted(model_dir.rglob("*"))
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(model_dir).parts)
    }
    if not files:
        raise PluginError(f"{method} wrote no file into {model_dir}; an export must write the "
                          "model it packages there")
    formats = sorted({file.format for file in files.values()})
    plain = json.loads(json.dumps(dict(manifest or {}), default=str))  # a Path becomes text
    return ExportFact(method=method, formats=formats, files=files, seed=seed, manifest=plain)


def exported_names(export: ExportFact | None) -> list[str]:
    """The exported files by their path in the run directory: those `export` recorded, or the
    built-in trainer's two where none were (an export recorded by an earlier phasegate)."""
    return sorted(export.files) if export is not None and export.files else list(BUILTIN_FILES)


def exported_files(facts: dict[str, Any], run_dir: Path) -> tuple[bool, str]:
    """The gate's check: every file `phase5.export` names is there, non-empty, as written."""
    given = (facts.get("phase5") or {}).get("export")
    export = ExportFact.model_validate(given) if given else None
    expected: dict[str, str | None] = dict.fromkeys(exported_names(export))
    if export is None or not export.files:  # recorded by an earlier phasegate, or not at all
        said = "no export files are recorded, so the built-in trainer's two"
    else:
        expected.update({name: file.sha256 for name, file in export.files.items()})
        said = f"the export ({', '.join(export.formats)}) wrote {len(expected)}"
    problems = []
    for name, digest in expected.items():
        path = run_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size == 0:
            problems.append(f"{name} is empty")
        elif digest is not None and (found := sha256_file(path)) != digest:
            problems.append(f"{name} changed since the export wrote it (sha256 {digest[:12]} "
                            f"-> {found[:12]})")
    if problems:
        return False, (f"{'; '.join(problems)}: {said} file(s), and the promoted model must be "
                       "the one exported; restore it or finalize again")
    return True, f"{said} file(s), each present as written"
