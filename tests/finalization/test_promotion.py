"""Promotion: only with every gate passing and none stale; a manifest of hashes; once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from phases.finalization import promote
from tests.finalization.helpers import create
from workflow.cli import main
from workflow.errors import GateFailed, WrongState
from workflow.store import Store


def _sign(store: Store) -> None:
    store.sign("finalization_complete", "model_card_reviewed", who="ana", note="read it")


# rule: promote refuses while the model card's sign-off is missing; nothing is copied
def test_promote_needs_the_model_card_sign_off(finalized_copy: Store) -> None:
    with pytest.raises(GateFailed, match="model_card_reviewed") as refused:
        promote(finalized_copy, who="test")
    assert "gate finalization_complete is pending" in str(refused.value)
    assert finalized_copy.current == "finalized"
    assert not (finalized_copy.run_dir / "promoted").exists()


# rule: promotion copies the model and reports into promoted/ with manifest.json: each file's
# sha256, the gates' results, the config, the versions of phasegate, torch and Python
def test_promote_writes_a_manifest_of_hashes(finalized_copy: Store) -> None:
    _sign(finalized_copy)
    result = promote(finalized_copy, who="ana")
    assert not result.already and finalized_copy.current == "promoted"
    folder = finalized_copy.run_dir / "promoted"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"model/model.pt", "model/model_torchscript.pt",
            "reports/phase5/finalization_report.md", "reports/phase5/test_metrics.json",
            "reports/phase5/plots/confusion_final.png",  # linked from the report: copied too
            "reports/phase3/diagnostic_report.md"} <= set(manifest["files"])
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
    assert set(manifest["gates"]) == {"diagnostics_complete", "optimization_complete",
                                      "finalization_complete"}
    assert all(g["passed"]["passed_at"] for g in manifest["gates"].values())
    assert manifest["training_config"]["model"]["name"] == "mlp"
    assert {"phasegate", "torch", "python"} <= set(manifest["versions"])


# rule: promoting twice is a no-op that says so, exit 0, the manifest untouched
def test_promoting_twice_is_a_no_op(
    finalized_copy: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(finalized_copy)
    runs = str(finalized_copy.run_dir.parent)
    assert main(["promote", finalized_copy.name, "--runs", runs]) == 0
    manifest = (finalized_copy.run_dir / "promoted/manifest.json").read_bytes()
    capsys.readouterr()
    assert main(["promote", finalized_copy.name, "--runs", runs]) == 0
    assert "already promoted" in capsys.readouterr().out
    assert (finalized_copy.run_dir / "promoted/manifest.json").read_bytes() == manifest
    assert sum(e["event"] == "promoted" for e in finalized_copy.events()) == 1


# rule: the CLI refuses promotion with exit 1 and names the failing item
def test_promote_cli_exit_code_when_refused(
    finalized_copy: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["promote", finalized_copy.name, "--runs", str(finalized_copy.run_dir.parent)])
    assert code == 1
    assert "model_card_reviewed" in capsys.readouterr().err


# rule: promote before Phase 5 is refused (exit 1) saying what to run first; nothing changes
def test_promote_before_finalized_says_what_to_run(tmp_path: Path) -> None:
    store = create(tmp_path / "proj", tmp_path / "runs", start="optimized")
    with pytest.raises(WrongState, match="Next: phasegate finalize tiny"):
        promote(store)
    assert store.current == "optimized" and not (store.run_dir / "promoted").exists()
