"""workflow.inputs: the paths of the files later steps depend on."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.inputs import hash_files, relative


# rule: a path under a run directory given relative to the working directory (`--runs runs`)
# is keyed relative to the run directory, never doubled (runs/x/runs/x/...)
def test_relative_paths_from_a_relative_run_dir(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_dir = Path("runs/demo")
    (run_dir / "phase5").mkdir(parents=True)
    (run_dir / "phase5" / "model.pt").write_bytes(b"weights")
    assert relative(run_dir, run_dir / "phase5" / "model.pt") == "phase5/model.pt"
    assert relative(run_dir.resolve(), run_dir / "phase5" / "model.pt") == "phase5/model.pt"
    outside = tmp_path / "elsewhere.yaml"
    assert relative(run_dir, outside) == str(outside)
    assert list(hash_files(run_dir, [run_dir / "phase5" / "model.pt"])) == ["phase5/model.pt"]
