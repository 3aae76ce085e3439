"""How the model fits: overfitting (train far above val) and underfitting (train itself low)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from phases.diagnostic.answers import (
    Recommendation,
    augment,
    capacity,
    dropout,
    lower,
    set_lr,
    weight_decay,
)
from phases.diagnostic.config_analysis import LR_RANGES
from phases.diagnostic.evidence import Evidence, SeedRun, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, majority, pts, r, window
from workflow.metric import Metric

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["Overfitting", "Shortfall", "Underfitting", "shortfall"]

# overfitting: the train-val accuracy gap at the last epoch, or val loss rising from its
# minimum for several epochs (and by a margin) while train loss keeps falling
OVERFIT_GAP = 0.15
OVERFIT_GAP_HIGH = 0.25
VAL_LOSS_RISE_EPOCHS = 3
VAL_LOSS_RISE_MIN = 0.05  # the last val loss at least 5% above its minimum
# underfitting: the best train accuracy this far below the reference (the project's goal,
# else UNDERFIT_ACCURACY); a plateau is a train loss moving less than 2% over the last quarter
UNDERFIT_ACCURACY = 0.80
UNDERFIT_MARGIN = 0.02
UNDERFIT_MARGIN_HIGH = 0.10
PLATEAU_REL_CHANGE = 0.02
VAL_LOSS = Metric.named("val_loss")
# the target fell back from its best by this much (a rate: points; otherwise: percent of the
# best) over this many epochs or more at the end
DECLINE_POINTS = 1.0
DECLINE_REL_PCT = 2.0
DECLINE_EPOCHS = 3


class Overfitting(Rule):
    """Judged on the target metric: it peaked and fell back while the train loss still fell,
    or (a rate with a train column) train ends far above val. A rising val loss alone is not
    overfitting (a classifier's loss rises with its confidence while its accuracy still
    climbs): it is reported as supporting evidence and raises the severity."""

    id = "overfitting"
    title = "Overfitting"
    answers = ("add_augmentation", "add_dropout", "add_weight_decay", "add_early_stopping",
               "less_capacity")
    settings = ("regularization",)

    def check(self, ev: Evidence) -> Finding | None:
        runs = having(ev.usable, ev.metric, "train_loss")
        if not runs:
            return None
        target = ev.target
        declined, drops, best_epochs, lengths = [], [], [], []
        for run in runs:
            values, train_loss = run.column(ev.metric), run.column("train_loss")
            best = target.best_index(values) or 0
            drop = target.oriented(values[best] - values[-1])  # >= 0: how far it fell back
            drop_pts = target.points(drop, values[best])
            drops.append(drop_pts)
            best_epochs.append(best + 1)
            lengths.append(len(values))
            if (len(values) - 1 - best >= DECLINE_EPOCHS and drop_pts >= self._bar(target)
                    and train_loss[-1] < train_loss[best]):
                declined.append(run.seed)
        gap = train_last = val_last = None
        train_col = "train_" + ev.metric.removeprefix("val_")
        if target.is_rate and ev.metric.startswith("val_"):
            paired = having(runs, train_col)
            if paired:
                train_last = mean(run.history[-1][train_col] for run in paired)
                val_last = mean(run.history[-1][ev.metric] for run in paired)
                gap = target.oriented(train_last - val_last)
        rising, rises = self._val_loss(runs)
        by_metric = majority(len(declined), len(runs))
        by_gap = gap is not None and gap > OVERFIT_GAP
        by_loss = majority(len(rising), len(runs))
        if by_metric and not by_gap:
            fit = shortfall(ev)
            if fit is not None and fit.underfit:  # cannot fit its training set: the fall
                by_metric = False  # back of its val score is noise, not memorization
        if not (by_metric or by_gap):
            return None
        signs = sum((by_metric, by_gap, by_loss))
        severity: Severity = (
            "high" if (gap is not None and gap > OVERFIT_GAP_HIGH) or signs >= 2 else "medium"
        )
        unit = target.unit
        parts = []
        if by_metric:
            parts.append(
                f"{ev.metric} peaked at epoch {mean(best_epochs):.0f} of {mean(lengths):.0f} and "
                f"fell back {mean(drops):.2f} {unit} by the end in {len(declined)} of {len(runs)} "
                "seeds while train loss kept falling"
            )
        if by_gap and gap is not None:
            parts.append(
                f"{train_col} ends at {100 * (train_last or 0):.1f}% but {ev.metric} at "
                f"{100 * (val_last or 0):.1f}%, a {100 * gap:.1f}-point gap (threshold "
                f"{100 * OVERFIT_GAP:.0f})"
            )
        if by_loss:
            parts.append(f"val loss rose {100 * mean(rises):.0f}% above its minimum in "
                         f"{len(rising)} of {len(runs)} seeds (supporting)")
        numbers: dict[str, object] = {
            "metric": ev.metric,
            "best_epoch": r(mean(best_epochs), 1),
            "epochs": r(mean(lengths), 1),
            "fall_back": r(mean(drops), 2),
            "fall_back_unit": unit,
            "seeds_declined": len(declined),
            "seeds_val_loss_rising": len(rising),
            "val_loss_rise_pct": r(100 * mean(rises), 1) if rises else 0.0,
            "seeds": len(runs),
        }
        if gap is not None and train_last is not None and val_last is not None:
            numbers.update({train_col: pts(train_last), ev.metric: pts(val_last),
                            "gap_points": pts(gap), "gap_threshold_points": pts(OVERFIT_GAP)})
        return self.found(severity, numbers, "; ".join(parts), seeds=[run.seed for run in runs])

    @staticmethod
    def _bar(target: Metric) -> float:
        """How far the target must fall back from its best: 1 point of a rate, else 2%."""
        return DECLINE_POINTS if target.is_rate else DECLINE_REL_PCT

    @staticmethod
    def _val_loss(runs: list[SeedRun]) -> tuple[list[int], list[float]]:
        """The seeds whose val loss rose from its minimum while train loss fell (support)."""
        rising: list[int] = []
        rises: list[float] = []
        for run in having(runs, "val_loss"):
            val_loss, train_loss = run.column("val_loss"), run.column("train_loss")
            low = VAL_LOSS.best_index(val_loss) or 0
            rise = val_loss[-1] / val_loss[low] - 1 if val_loss[low] > 0 else 0.0
            rises.append(rise)
            if (len(val_loss) - 1 - low >= VAL_LOSS_RISE_EPOCHS and rise >= VAL_LOSS_RISE_MIN
                    and train_loss[-1] < train_loss[low]):
                rising.append(run.seed)
        return rising, rises

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        room = float(finding.evidence.get("gap_points", finding.evidence.get("fall_back", 0.0)))
        recs = augment(ctx, self.id, primary, ctx.gain(room, 0.15, 0.4))
        recs += dropout(ctx, self.id, primary, ctx.gain(room, 0.1, 0.3))
        # a smaller model competes with augmentation and dropout rather than adding to them
        # (all together underfit): it is the answer only once both are in place
        shrink = not recs
        recs += weight_decay(ctx, self.id, lower(primary), ctx.gain(room, 0.05, 0.2))
        if ctx.config.training.early_stopping is None:
            recs.append(Recommendation(
                name="add_early_stopping",
                title="Stop earlier (early stopping on val loss, patience 5)",
                priority="LOW",
                changes={"training.early_stopping": {"monitor": "val_loss", "mode": "min",
                                                     "patience": 5}},
                finding=self.id,
                rationale="the epochs after val loss turns up only memorize; the best "
                "checkpoint is kept either way, so the gain is mostly time",
                expected_gain=ctx.gain(room, 0.0, 0.05),
                risk="a noisy val loss can stop a run that would still improve",
            ))
        smaller = capacity(ctx, 0.5) if shrink else None
        if smaller:
            recs.append(Recommendation(
                name="less_capacity",
                title="Halve the model's capacity",
                priority="LOW",
                changes=smaller,
                finding=self.id,
                rationale="a smaller model has less room to memorize the training set",
                expected_gain=ctx.gain(room, 0.0, 0.15),
                risk="too small a model underfits",
            ))
        return recs


@dataclass(frozen=True)
class Shortfall:
    """How far the best train accuracy stays below its reference (the goal, else a floor)."""

    runs: list[SeedRun]
    train_best: float
    val_best: float
    gap: float  # train - val at the last epoch
    reference: float
    source: str

    @property
    def underfit(self) -> bool:
        return self.train_best < self.reference - UNDERFIT_MARGIN and self.gap <= OVERFIT_GAP


def shortfall(ev: Evidence) -> Shortfall | None:
    """The accuracy a model reaches on its own training set, against its reference.

    The reference is the project's goal when the target is a rate of the same name on
    train and val, else UNDERFIT_ACCURACY. None: no usable run records an accuracy.
    """
    train_col = "train_accuracy"
    reference, source = UNDERFIT_ACCURACY, "the underfitting floor"
    target = ev.target
    if (ev.goal is not None and target.is_rate and target.higher_is_better
            and target.name.startswith("val_")):
        train_col = "train_" + target.name.removeprefix("val_")
        reference, source = ev.goal, "the project's goal"
    val_col = "val_" + train_col.removeprefix("train_")
    runs = having(ev.usable, train_col, val_col, "train_loss")
    if not runs:
        return None
    return Shortfall(
        runs=runs,
        train_best=mean(max(run.column(train_col)) for run in runs),
        val_best=mean(max(run.column(val_col)) for run in runs),
        gap=mean(run.history[-1][train_col] - run.history[-1][val_col] for run in runs),
        reference=reference,
        source=source,
    )


class Underfitting(Rule):
    id = "underfitting"
    title = "Underfitting"
    explained_by = ("lr_too_high", "input_scale", "sgd_no_momentum", "adam_betas",
                    "frozen_layers", "heavy_regularization", "few_steps", "too_little_capacity",
                    "lr_too_low", "early_stopping_eager")
    answers = ("more_capacity", "less_regularization", "train_longer", "raise_lr")

    def not_applicable(self, ev: Evidence) -> str | None:
        if not ev.usable or shortfall(ev) is not None:
            return None
        return (f"needs a train accuracy to compare with a reference, which a {ev.metric} "
                f"({ev.target.direction}) history does not record")

    def check(self, ev: Evidence) -> Finding | None:
        fit = shortfall(ev)
        if fit is None or not fit.underfit:
            return None
        runs, reference, source = fit.runs, fit.reference, fit.source
        train_best, val_best = fit.train_best, fit.val_best
        changes, final_loss = [], []
        for run in runs:
            loss = run.column("train_loss")
            w = min(len(loss) - 1, window(len(loss)))
            start = loss[-1 - w] if w > 0 else loss[0]
            changes.append(abs(start - loss[-1]) / start if start > 0 else 0.0)
            final_loss.append(loss[-1])
        plateau = mean(changes) < PLATEAU_REL_CHANGE
        severity: Severity = (
            "high" if train_best < reference - UNDERFIT_MARGIN_HIGH else "medium"
        )
        text = (
            f"train accuracy peaks at {100 * train_best:.1f}% and val at {100 * val_best:.1f}%, "
            f"both below the {100 * reference:.1f}% of {source}; train loss ends at "
            f"{mean(final_loss):.3f}, moving {100 * mean(changes):.1f}% over the last quarter"
            + (" (a plateau)" if plateau else "")
        )
        return self.found(severity, {
            "train_accuracy_best": pts(train_best),
            "val_accuracy_best": pts(val_best),
            "reference": pts(reference),
            "shortfall_points": pts(reference - train_best),
            "train_loss_last": r(mean(final_loss), 4),
            "train_loss_change_last_quarter_pct": r(100 * mean(changes), 2),
            "plateau": plateau,
            "seeds": len(runs),
        }, text, seeds=[run.seed for run in runs])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        room = float(finding.evidence.get("shortfall_points", 0.0))
        recs = []
        bigger = capacity(ctx, 2.0)
        if bigger:
            recs.append(Recommendation(
                name="more_capacity",
                title="Double the model's capacity",
                priority=primary,
                changes=bigger,
                finding=self.id,
                rationale="the model cannot even fit the training set: give it more parameters",
                expected_gain=ctx.gain(room, 0.2, 0.5),
                risk="slower steps; may overfit once it fits",
                cost=2.0,
            ))
        cfg = ctx.config
        if cfg.optimizer.weight_decay > 0 or cfg.model.dropout > 0:
            recs.append(Recommendation(
                name="less_regularization",
                title="Halve the regularization (dropout, weight decay)",
                priority=primary,
                changes={
                    "model.dropout": round(cfg.model.dropout / 2, 3),
                    "optimizer.weight_decay": cfg.optimizer.weight_decay / 2,
                },
                finding=self.id,
                rationale="regularization holds back a model that is not overfitting",
                expected_gain=ctx.gain(room, 0.1, 0.3),
                risk="may start to overfit",
            ))
        epochs = cfg.training.epochs
        recs.append(Recommendation(
            name="train_longer",
            title=f"Train 3x longer ({epochs} -> {3 * epochs} epochs)",
            priority=lower(primary),
            changes={"training.epochs": 3 * epochs},
            finding=self.id,
            rationale="more steps let an underfit model keep descending (2-5x is usual)",
            expected_gain=ctx.gain(room, 0.1, 0.4),
            risk="3x the training time",
            cost=3.0,
            space={"training.epochs": {"type": "int", "low": 2 * epochs, "high": 5 * epochs}},
        ))
        if "lr_too_high" not in ctx.found:
            new = ctx.probe_lr() or min(10 * ctx.lr, LR_RANGES[cfg.optimizer.name][1])
            if new > ctx.lr:
                recs.append(set_lr(ctx, new, self.id, lower(primary), ctx.gain(room, 0.0, 0.4),
                                   "a larger step size escapes the plateau sooner", raise_=True))
        return recs
