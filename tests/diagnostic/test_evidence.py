"""phases.diagnostic.evidence: a seed's record, and the one best-epoch rule."""

from __future__ import annotations

import math

from phases.diagnostic.evidence import SeedRun
from tests.diagnostic.histories import clean_config, evidence, history
from workflow.metric import Metric


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


def test_the_best_epoch_is_the_first_best_finite_value_of_the_monitor() -> None:
    # workflow.metric's one rule: a NaN row is never best, a tie keeps the earliest epoch;
    # the monitor's direction (val_accuracy: higher) comes from Metric, not from the name here
    rows = history(5, val_accuracy=[math.nan, 0.90, 0.95, 0.95, 0.70])
    ev = evidence([rows])
    assert ev.best_row(ev.runs[0])["epoch"] == 3
    assert ev.target_values() == [0.95]
    # a monitor that is a loss is minimized: the lowest val loss, first on ties
    by_loss = evidence([history(4, val_loss=[0.9, 0.5, 0.5, 0.7])],
                       config=clean_config(**{"training.monitor": "val_loss"}))
    assert by_loss.best_row(by_loss.runs[0])["epoch"] == 2


def test_a_target_to_minimize_is_read_through_its_metric() -> None:
    # a project whose target is val_loss: its best value is the lowest, and it is no rate
    rows = history(4, val_loss=[0.9, 0.4, 0.6, 0.5])
    ev = evidence([rows], config=clean_config(**{"training.monitor": "val_loss"}),
                  target=Metric.named("val_loss", "minimize"))
    assert ev.metric == "val_loss" and not ev.target.is_rate
    assert ev.target_values() == [0.4]
