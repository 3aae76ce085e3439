"""Phase 5's facts (`phase5.*`): the final training, the one test look, the export."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from workflow.facts._base import ByMetric, FactsModel

__all__ = [
    "ExportFact",
    "ExportedFileFact",
    "FinalSourceFact",
    "FinalTrainingFact",
    "McNemarFact",
    "PairedFact",
    "Phase5Facts",
    "SelectionFact",
    "TestFact",
    "TestLockFact",
    "TestLookFact",
]


class FinalTrainingFact(ByMetric):
    """The final training's seed counts and the target metric's summary over its seeds."""

    runs: int | None = None
    seeds: int | None = None


class FinalSourceFact(FactsModel):
    """Where the final training's runs come from: an earlier arm's runs of the very same
    config (sha256, split included) on the same seeds, reused; or trained in Phase 5."""

    reused: bool
    source: str  # the arm's folder, relative to the run directory
    config_sha256: str
    seeds: list[int]
    why: str


class SelectionFact(FactsModel):
    """The seed whose model is kept (the median of the arm), and why."""

    seed: int
    rule: str
    metric: str
    value: float
    values: dict[str, float]  # by seed, as JSON keys
    run_dir: str
    checkpoint: str
    why: str


class ExportedFileFact(FactsModel):
    """One file the export wrote: its format, read from its bytes, its size and sha256."""

    format: str  # torchscript, torch.export, onnx, safetensors, torch.save or other
    bytes: int
    sha256: str


class ExportFact(FactsModel):
    """What Phase 5's export wrote into `phase5/model/` (also `phase5/export.json`).

    `files` are keyed by their path in the run directory; `finalization_complete`
    checks each of them (it exists, is not empty, has this sha256), whatever their
    formats, so a trainer exporting ONNX or a plain state dict passes as TorchScript
    does. `manifest` is what the export returned (the built-in's: parameters, input
    shape, TorchScript method); `verified` says how the export was checked, if it was.
    """

    method: str
    formats: list[str]
    files: dict[str, ExportedFileFact]
    seed: int | None = None
    manifest: dict[str, Any] = {}
    verified: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _earlier_shape(cls, data: Any) -> Any:
        """An export recorded by an earlier phasegate (a free manifest) reads with its keys
        under `manifest` and no files: the gate then checks the built-in's two files."""
        if isinstance(data, dict) and "formats" not in data:
            return {"method": str(data.get("method", "the built-in export")), "formats": [],
                    "files": {}, "manifest": data}
        return data


class TestFact(FactsModel):
    """The test set's headline numbers, final model against baseline.

    A classifier's are accuracies; a regression's its test MSE (`final_value`,
    `baseline_value`, `difference`, with `measure` "mse"); another task's the
    trainer's own metric, named in `measure`. What does not apply is left None.
    """

    __test__ = False  # not a pytest test class, despite the name

    n: int
    task: str = "classification"
    final_accuracy: float | None = None
    baseline_accuracy: float | None = None
    accuracy_difference: float | None = None
    final_macro_f1: float | None = None
    final_balanced_accuracy: float | None = None
    measure: str | None = None
    final_value: float | None = None
    baseline_value: float | None = None
    difference: float | None = None


class PairedFact(FactsModel):
    """Baseline (a) against final (b) on the same test examples, for a regression: the
    mean difference of their per-example squared errors (negative: b is better)."""

    method: str
    n: int
    mean_difference: float
    ci95: list[float]
    p_value: float
    model_a: str
    model_b: str


class McNemarFact(FactsModel):
    """McNemar's test of the baseline (model A) against the final model (B) on the test set."""

    n: int
    accuracy_a: float
    accuracy_b: float
    b: int
    c: int
    statistic: float
    p_value: float
    method: str
    model_a: str
    model_b: str


class TestLockFact(FactsModel):
    """The record of the one look at the test split: when, by whom, and the saved file's hash."""

    __test__ = False

    evaluated_at: str
    by: str
    arms: list[str]
    file: str
    sha256: str
    class_names: list[str]
    split: dict[str, Any]
    recovered_from_file: bool


class TestLookFact(FactsModel):
    """The look at the test split as it opened, recorded before the split is read.

    `models` names each arm's file (relative to the run directory) and its sha256:
    a look killed before it was recorded is completed on these very files, never
    opened again on others.
    """

    __test__ = False

    opened_at: str
    by: str
    models: dict[str, dict[str, str]]  # arm -> {"file": ..., "sha256": ...}


class Phase5Facts(FactsModel):
    """Phase 5's progress, in the order it records it; `completed` comes last."""

    config_source: str | None = None
    config_file: str | None = None
    final_source: FinalSourceFact | None = None
    final: FinalTrainingFact | None = None
    selection: SelectionFact | None = None
    final_training_completed: bool | None = None
    baseline_selection: SelectionFact | None = None
    export: ExportFact | None = None  # what the export wrote (export.json)
    test_look: TestLookFact | None = None
    test_lock: TestLockFact | None = None
    test_evaluations: int | None = None
    test: TestFact | None = None
    mcnemar: McNemarFact | None = None
    paired: PairedFact | None = None  # a regression's test comparison (McNemar's, a class's)
    not_applicable: list[str] | None = None  # the test comparisons the task rules out, and why
    completed: bool | None = None
    completed_at: str | None = None
    # every file the model card reports on, by path relative to the run directory, and its
    # sha256 when Phase 5 wrote it: promotion refuses a file that changed since
    files: dict[str, str] | None = None
