"""examples/classifier: a plain PyTorch script wrapped in a few lines, walked by `phasegate run`
from nothing to promoted, its test look taken through the wrapper's evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.cli import main
from workflow.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "classifier"


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Store:
    runs = tmp_path_factory.mktemp("classifier") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHASEGATE_WORKERS", "1")
        code = main(["run", str(EXAMPLE / "project.yaml"), "--runs", str(runs),
                     "--sign-off", "tester"])
    assert code == 0
    return Store.open("digits-script", runs)


# rule (acceptance): the wrapped script reaches promoted, with its own export promoted
def test_the_wrapped_script_is_promoted(promoted: Store) -> None:
    assert promoted.current == "promoted"
    model = promoted.run_dir / "promoted" / "model"
    assert (model / "model.pt").is_file() and (model / "model_torchscript.pt").is_file()


# rule: the wrapper is a few lines, and the script knows nothing of phasegate
def test_the_script_is_plain_and_the_wrapper_small() -> None:
    assert "phasegate" not in (EXAMPLE / "digits_script.py").read_text().replace(
        "no phasegate in it", "")
    assert "workflow" not in (EXAMPLE / "digits_script.py").read_text()
    code = [line for line in (EXAMPLE / "digits_wrapped.py").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", '"', "from", "import"))]
    assert len(code) <= 50


# rule: a classifier on a user's trainer is compared with McNemar on the test look the
# wrapper's evaluate gave; its own test metrics are kept beside
def test_a_classifier_is_compared_with_mcnemar(promoted: Store) -> None:
    test = promoted.get("phase5.test")
    assert test["task"] == "classification" and 0 <= test["final_accuracy"] <= 1
    assert 0 <= promoted.get("phase5.mcnemar.p_value") <= 1
    assert promoted.get("phase5.test_evaluations") == 1
    export = promoted.get("phase5.export")
    assert export["method"].startswith("the trainer's export (digits_wrapped:fit)")
    metrics = (promoted.run_dir / "phase5" / "test_metrics.json").read_text()
    assert '"trainer_metrics"' in metrics and '"test_accuracy"' in metrics
