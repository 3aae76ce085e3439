"""What Phase 5's export wrote, as a fact, and the gate's check that all of it is still there.

Any trainer packages its model its own way: the built-in writes a state dict and
TorchScript; a user's `export` may write ONNX, a `torch.export` program, a plain
state dict, or several. `export_fact` reads what landed in `phase5/model/`,
names each file's format from its bytes (`file_format`: a TorchScript archive,
a `torch.export` archive, a `torch.save` pickle, ONNX, safetensors), hashes it,
and returns the `ExportFact` Phase 5 records as `phase5.export` and writes as
`phase5/export.json`.

The gate `finalization_complete` checks exactly those files
(`workflow.checks.exported_files`, its `model_saved` item): each must exist, be
non-empty and have the sha256 it had when the export wrote it, so a missing or
changed file fails the gate, named; promotion checks them again through
`phase5.files`. No format is required: a state dict alone passes as TorchScript
does. The check lives in `workflow.checks` so that `status`, which loads every
checklist, imports nothing of Phase 5.
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

__all__ = ["export_fact", "file_format"]


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


