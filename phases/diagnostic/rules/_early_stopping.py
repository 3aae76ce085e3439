"""Early stopping: too eager (it stops runs still learning), or configured but never firing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence, SeedRun, mean
from phases.diagnostic.rules._base import Finding, Rule, having, majority, r

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority
    from workflow.trainer.config import EarlyStopping

__all__ = ["EarlyStoppingEager", "EarlyStoppingNeverFires"]

# stopping within the first 30% of the epochs or with a patience under 3 is eager; never
# stopping while the target peaked in the first half means it never fires
EAGER_FRACTION = 0.30
EAGER_PATIENCE = 3
NEVER_FIRES_FRACTION = 0.50


@dataclass(frozen=True)
class Stopping:
    """Early stopping as the runs show it: its settings, the runs, the ones it stopped."""

    settings: EarlyStopping
    runs: list[SeedRun]
    stopped: list[SeedRun]

    def numbers(self, ev: Evidence) -> dict[str, object]:
        return {
            "patience": self.settings.patience,
            "min_delta": self.settings.min_delta,
            "monitor": self.settings.monitor,
            "epochs_configured": ev.epochs_configured,
            "seeds_stopped": len(self.stopped),
            "seeds": len(self.runs),
        }


def stopping(ev: Evidence) -> Stopping | None:
    """None when early stopping is not configured or no usable run has the target."""
    es = ev.config.training.early_stopping
    runs = having(ev.usable, ev.metric)
    if es is None or not runs:
        return None
    return Stopping(es, runs, [run for run in runs if run.status == "early_stopped"])


class EarlyStoppingEager(Rule):
    id = "early_stopping_eager"
    reads = ("training.early_stopping",)
    title = "Early stopping too eager"
    hides_others = True
    answers = ("more_patience",)
    settings = ("training.early_stopping",)

    def check(self, ev: Evidence) -> Finding | None:
        seen = stopping(ev)
        if seen is None or not majority(len(seen.stopped), len(seen.runs)):
            return None
        es, runs, stopped = seen.settings, seen.runs, seen.stopped
        configured = ev.epochs_configured
        stop_epoch = mean(len(run.history) for run in stopped)
        if stop_epoch >= EAGER_FRACTION * configured and es.patience >= EAGER_PATIENCE:
            return None
        drops = []
        for run in stopped:
            loss = run.column("train_loss")
            back = min(len(loss) - 1, es.patience)
            drops.append((loss[-1 - back] - loss[-1]) / loss[-1 - back] if loss[-1 - back] else 0)
        return self.found("medium", {
            **seen.numbers(ev),
            "stop_epoch": r(stop_epoch, 1),
            "train_loss_drop_last_patience_pct": r(100 * mean(drops), 1),
        }, f"early stopping (patience {es.patience}) ended {len(stopped)} of {len(runs)} seeds "
           f"at epoch {stop_epoch:.1f} of {configured}, while train loss was still falling "
           f"{100 * mean(drops):.0f}% over the last {es.patience} epochs",
            seeds=[run.seed for run in stopped])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        es = ctx.config.training.early_stopping
        if es is None:
            return []
        patience = max(2 * es.patience, 5)
        return [Recommendation(
            name="more_patience",
            title=f"Give early stopping more patience ({es.patience} -> {patience})",
            priority=primary,
            changes={"training.early_stopping.patience": patience,
                     "training.early_stopping.min_delta": 0.0},
            finding=self.id,
            rationale="the runs stopped while the train loss was still falling",
            expected_gain=ctx.gain(ctx.headroom * 0.2, 0.0, 1.0),
            risk="longer runs",
            space={"training.early_stopping.patience": {"type": "int", "low": patience // 2 + 1,
                                                         "high": 3 * patience}},
        )]


class EarlyStoppingNeverFires(Rule):
    id = "early_stopping_never_fires"
    reads = ("training.early_stopping",)
    title = "Early stopping never fires"
    root_cause = False
    answers = ("early_stopping_on_target",)
    settings = ("training.early_stopping",)

    def check(self, ev: Evidence) -> Finding | None:
        seen = stopping(ev)
        if seen is None or seen.stopped:
            return None
        es, runs = seen.settings, seen.runs
        configured = ev.epochs_configured
        target = ev.target
        best = mean((target.best_index(run.column(ev.metric)) or 0) + 1 for run in runs)
        length = mean(len(run.history) for run in runs)
        if best > NEVER_FIRES_FRACTION * length and es.patience < configured:
            return None
        why = (
            f"its patience ({es.patience}) is not below the {configured} epochs"
            if es.patience >= configured
            else f"{es.monitor} kept improving by tiny amounts (min_delta {es.min_delta:g})"
        )
        return self.found("low", {
            **seen.numbers(ev), "best_epoch": r(best, 1), "epochs": r(length, 1),
        }, f"early stopping is configured but no seed stopped, although {ev.metric} peaked at "
           f"epoch {best:.1f} of {length:.0f}: {why}", seeds=[run.seed for run in runs])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        es = ctx.config.training.early_stopping
        if es is None:
            return []
        target = ctx.evidence.target
        patience = min(es.patience, max(2, ctx.config.training.epochs // 4))
        return [Recommendation(
            name="early_stopping_on_target",
            title=f"Stop on {target.name} with a minimum improvement",
            priority=primary,
            changes={"training.early_stopping": {"monitor": target.name, "mode": target.mode,
                                                 "patience": patience, "min_delta": 0.001}},
            finding=self.id,
            rationale=f"{es.monitor} keeps inching while {target.name} has stopped improving",
            expected_gain=(0.0, 0.0),
            risk="a late-peaking seed may stop before its best epoch",
        )]
