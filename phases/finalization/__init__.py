"""Phase 5, finalization: the final model, the one look at the test set, the report, promotion.

- `training`: the chosen config, the final training on every seed, the median seed kept
- `testlock`: the only door to the test split (`open_test_split`), once, in Phase 5
- `look`: the export, the one look (the trainer's `evaluate`, inside the test lock) and
  the comparison, through the trainer protocol, for any trainer and task
- the export of the built-in trainer lives with it (`workflow.trainer.export`); a user's
  trainer exports through its own `export` (`workflow.protocol`)
- `exported`: what the export wrote (`phase5.export`: formats, files, sha256s) and the
  promotion gate's check of those files
- `evaluation`: the final model against the baseline on the test set (McNemar, per class)
- `report`: the finalization report's context (path, test, gates, model card), for any
  trainer and task; `report_sections`: its test section by task and model card by trainer
- `phase`: `run_finalize`, with the store
- `promotion`: `promote`, into runs/<p>/promoted/ with manifest.json
"""

from __future__ import annotations

from phases.finalization.evaluation import arm_metrics, compare_on_test, plot_confusion
from phases.finalization.phase import Finalization, run_finalize
from phases.finalization.promotion import Promotion, promote
from phases.finalization.testlock import (
    LOCK,
    TestEvaluation,
    check_open,
    open_test_split,
    recorded_evaluation,
)
from phases.finalization.training import Chosen, Selection, chosen_config, select_median
from workflow.trainer.export import export_model, load_checkpoint, load_final_model

__all__ = [
    "LOCK",
    "Chosen",
    "Finalization",
    "Promotion",
    "Selection",
    "TestEvaluation",
    "arm_metrics",
    "check_open",
    "chosen_config",
    "compare_on_test",
    "export_model",
    "load_checkpoint",
    "load_final_model",
    "open_test_split",
    "plot_confusion",
    "promote",
    "recorded_evaluation",
    "run_finalize",
    "select_median",
]
