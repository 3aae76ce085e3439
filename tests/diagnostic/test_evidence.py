"""phases.diagnostic.evidence: a seed's record, and the one best-epoch rule."""

from __future__ import annotations

import math

from phases.diagnostic.evidence import SeedRun
from tests.diagnostic.histories import history


def test_history_import_status_rules() -> None:
    # a history is diverged at its first non-finite loss (rows before it kept), early-stopped
    # when shorter than the configured epochs under early stopping, else completed
    rows = history(6, val_loss=lambda e: math.inf if e == 4 else 1.0)
    run = SeedRun.from_history(7, rows, configured_epochs=6, early_stopping=True)
    assert (run.status, run.diverged_epoch, len(run.history)) == ("diverged", 4, 3)
    short = SeedRun.from_history(7, history(4), configured_epochs=6, early_stopping=True)
    assert short.status == "early_stopped"
    full = SeedRun.from_history(7, history(4), configured_epochs=6, early_stopping=False)
    assert full.status == "completed" and full.usable
