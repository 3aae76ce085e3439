"""What the export wrote is a fact (`phase5.export`), and the promotion gate checks those files,
whatever their format: a trainer exporting only a plain state dict reaches `promoted`, and a
deleted export file fails the gate and the promotion, named."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import yaml

from phases.finalization.exported import export_fact, file_format
from tests.conftest import tiny_config
from tests.finalization.helpers import copy_runs, empty_values, skip_to_optimized
from workflow.checks import exported_files
from workflow.cli import main
from workflow.errors import PluginError
from workflow.gates import check_gate
from workflow.project import load_project
from workflow.store import Store

# a regression on its own data whose export is the state dict alone: no TorchScript, no model.pt
TRAINER = '''
import torch
from workflow.protocol import Evaluation, Trainer, write_run

WEIGHTS = torch.tensor([1.0, -2.0, 0.5])


def _data(split):
    generator = torch.Generator().manual_seed({"train": 0, "val": 1, "test": 2}[split])
    x = torch.randn(48, 3, generator=generator)
    return x, x @ WEIGHTS + 0.1 * torch.randn(48, generator=generator)


def _model(path):
    model = torch.nn.Linear(3, 1)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


class StateDictOnly(Trainer):
    task = "regression"

    def fit(self, config, seed, out_dir, *, report=None, should_stop=None):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        (x, y), (vx, vy) = _data("train"), _data("val")
        rows = []
        for _ in range(3):
            loss = ((model(x).squeeze(1) - y) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                val = float(((model(vx).squeeze(1) - vy) ** 2).mean())
            rows.append({"train_loss": loss.item(), "val_loss": val, "val_mse": val})
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out_dir / "weights.pt")
        return write_run(out_dir, config, seed, rows, monitor="val_mse", direction="minimize",
                         checkpoints={"best": out_dir / "weights.pt",
                                      "last": out_dir / "weights.pt"})

    def evaluate(self, run_dir, split):
        x, y = _data(split)
        with torch.no_grad():
            predicted = _model(run_dir / "checkpoints" / "best.pt")(x).squeeze(1)
        return Evaluation(y.tolist(), predicted.tolist(),
                          {f"{split}_mse": float(((predicted - y) ** 2).mean())})

    def export(self, run_dir, dest):
        torch.save(_model(run_dir / "checkpoints" / "best.pt").state_dict(), dest / "weights.pt")
        return {"weights": "weights.pt", "load": "torch.nn.Linear(3, 1).load_state_dict"}
'''


@pytest.fixture(scope="module")
def finalized(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A project on the state-dict-only trainer, its baseline trained, Phase 4 skipped, and
    Phase 5 run by `phasegate finalize`."""
    root = tmp_path_factory.mktemp("export")
    folder = root / "proj"
    folder.mkdir()
    module = f"state_dict_only_{root.name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(TRAINER)
    (folder / "baseline.yaml").write_text(yaml.safe_dump(tiny_config()))
    (folder / "project.yaml").write_text(yaml.safe_dump({
        "name": "weights", "baseline": "baseline.yaml", "trainer": f"{module}:StateDictOnly",
        "target": {"metric": "val_mse", "direction": "minimize", "goal": 100.0},
        "seeds": [0, 1, 2], "fresh_seeds": [100, 101, 102]}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHASEGATE_WORKERS", "1")
        patch.setattr(sys, "path", list(sys.path))
        store = skip_to_optimized(Store.create(load_project(folder / "project.yaml"),
                                               root / "runs", start="baseline",
                                               project_dir=folder, who="test"))
        assert main(["finalize", "weights", "--runs", str(root / "runs")]) == 0
    return store


@pytest.fixture
def copy(finalized: Store, tmp_path: Path) -> Store:
    runs = copy_runs(finalized.run_dir.parent, tmp_path / "runs")
    store = Store.open(finalized.name, runs)
    store.sign("finalization_complete", "model_card_reviewed", who="ana", note="read it")
    return store


# rule: the export is recorded as what it wrote, each file's format read from its bytes
def test_the_export_is_recorded_with_its_formats_and_files(finalized: Store) -> None:
    export = finalized.get("phase5.export")
    assert export["formats"] == ["torch.save"]
    assert list(export["files"]) == ["phase5/model/weights.pt"]
    assert export["manifest"]["weights"] == "weights.pt"
    assert sorted(p.name for p in (finalized.run_dir / "phase5" / "model").iterdir()) == [
        "weights.pt"]
    report = (finalized.run_dir / "phase5" / "finalization_report.md").read_text()
    assert empty_values(report) == []
    assert "| `model/weights.pt` | torch.save, written by the export |" in report
    assert "formats torch.save" in report and "torch.jit.load" not in report


# rule (issue 13): a trainer whose export is a plain state dict alone reaches promoted: the
# gate checks the files the export wrote, not a TorchScript file it never promised
def test_a_state_dict_only_export_is_promoted(copy: Store) -> None:
    items = {i.id: i for i in check_gate(copy, "finalization_complete").items}
    assert items["model_saved"].status == "pass", items["model_saved"].reason
    assert "the export (torch.save) wrote 1 file(s)" in items["model_saved"].reason
    assert main(["promote", "weights", "--runs", str(copy.run_dir.parent)]) == 0
    assert copy.current == "promoted"
    promoted = copy.run_dir / "promoted"
    assert (promoted / "model" / "weights.pt").is_file()
    assert not (promoted / "model" / "model_torchscript.pt").exists()
    manifest = yaml.safe_load((promoted / "manifest.json").read_text())
    assert manifest["files"]["model/weights.pt"]["source"] == "phase5/model/weights.pt"


# rule: a file the export wrote and that was deleted since fails the gate and the promotion,
# in one line naming it; nothing is promoted
def test_a_deleted_export_file_fails_the_gate_and_promotion(
    copy: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy.run_dir / "phase5" / "model" / "weights.pt").unlink()
    items = {i.id: i for i in check_gate(copy, "finalization_complete").items}
    assert items["model_saved"].status == "fail"
    assert items["model_saved"].reason.startswith(
        "workflow.checks:exported_files: phase5/model/weights.pt is missing")
    capsys.readouterr()
    assert main(["promote", "weights", "--runs", str(copy.run_dir.parent)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("phasegate: cannot promote weights: ")
    assert "phase5/model/weights.pt" in err and "missing" in err
    assert copy.current == "finalized" and not (copy.run_dir / "promoted").exists()


# rule: a changed export file fails the gate, naming the file and both hashes
def test_a_changed_export_file_fails_the_gate(copy: Store) -> None:
    (copy.run_dir / "phase5" / "model" / "weights.pt").write_bytes(b"something else")
    ok, reason = exported_files(copy.facts, copy.run_dir)
    assert not ok and reason.startswith("phase5/model/weights.pt changed since the export "
                                        "wrote it (sha256 ")


# rule: each format is named from the file's bytes: TorchScript, torch.export, a torch.save
# pickle; ONNX and safetensors by their suffix; an export that wrote nothing is refused
def test_formats_are_read_from_the_files(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Linear(3, 2)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(model).save(str(tmp_path / "scripted.pt"))
        torch.export.save(torch.export.export(model, (torch.randn(1, 3),)),
                          str(tmp_path / "program.pt2"))
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    (tmp_path / "notes.txt").write_text("how to load it")
    assert {p.name: file_format(p) for p in sorted(tmp_path.iterdir())} == {
        "model.onnx": "onnx", "notes.txt": "other", "program.pt2": "torch.export",
        "scripted.pt": "torchscript", "state.pt": "torch.save"}
    fact = export_fact(tmp_path, tmp_path, method="test", manifest={"path": tmp_path}, seed=1)
    assert fact.formats == ["onnx", "other", "torch.export", "torch.save", "torchscript"]
    assert fact.manifest == {"path": str(tmp_path)}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PluginError, match="wrote no file into"):
        export_fact(tmp_path, empty, method="test", manifest=None, seed=1)

