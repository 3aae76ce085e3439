"""How the model fits: overfitting (train far above val) and underfitting (train itself low)."""

from __future__ import annotations

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
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, majority, pts, r, window
from workflow.metric import Metric

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["Overfitting", "Underfitting"]

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


class Overfitting(Rule):
    id = "overfitting"
    title = "Overfitting"
    answers = ("add_augmentation", "add_dropout", "add_weight_decay", "add_early_stopping",
               "less_capacity")

    def check(self, ev: Evidence) -> Finding | None:
        runs = having(ev.usable, "train_accuracy", "val_accuracy", "train_loss", "val_loss")
        if not runs:
            return None
        train_last = mean(run.history[-1]["train_accuracy"] for run in runs)
        val_last = mean(run.history[-1]["val_accuracy"] for run in runs)
        gap = train_last - val_last
        rising, min_epochs, rises = [], [], []
        for run in runs:
            val_loss, train_loss = run.column("val_loss"), run.column("train_loss")
            low = VAL_LOSS.best_index(val_loss) or 0
            min_epochs.append(low + 1)
            rise = val_loss[-1] / val_loss[low] - 1 if val_loss[low] > 0 else 0.0
            rises.append(rise)
            if (
                len(val_loss) - 1 - low >= VAL_LOSS_RISE_EPOCHS
                and rise >= VAL_LOSS_RISE_MIN
                and train_loss[-1] < train_loss[low]
            ):
                rising.append(run.seed)
        by_gap = gap > OVERFIT_GAP
        by_loss = majority(len(rising), len(runs))
        if not (by_gap or by_loss):
            return None
        severity: Severity = (
            "high" if gap > OVERFIT_GAP_HIGH or (by_gap and by_loss) else "medium"
        )
        parts = []
        if by_gap:
            parts.append(
                f"train accuracy ends at {100 * train_last:.1f}% but val accuracy at "
                f"{100 * val_last:.1f}%, a {100 * gap:.1f}-point gap (threshold "
                f"{100 * OVERFIT_GAP:.0f})"
            )
        if by_loss:
            parts.append(
                f"val loss rose {100 * mean(rises):.0f}% above its minimum (epoch "
                f"{mean(min_epochs):.0f}) in {len(rising)} of {len(runs)} seeds while train "
                "loss fell"
            )
        return self.found(severity, {
            "train_accuracy": pts(train_last),
            "val_accuracy": pts(val_last),
            "gap_points": pts(gap),
            "gap_threshold_points": pts(OVERFIT_GAP),
            "val_loss_min_epoch": r(mean(min_epochs), 1),
            "val_loss_rise_pct": r(100 * mean(rises), 1),
            "seeds_val_loss_rising": len(rising),
            "seeds": len(runs),
        }, "; ".join(parts), seeds=[run.seed for run in runs])

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        room = float(finding.evidence.get("gap_points", 0.0))
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


class Underfitting(Rule):
    id = "underfitting"
    title = "Underfitting"
    explained_by = ("lr_too_high", "lr_too_low", "early_stopping_eager")
    answers = ("more_capacity", "less_regularization", "train_longer", "raise_lr")

    def check(self, ev: Evidence) -> Finding | None:
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
        train_best = mean(max(run.column(train_col)) for run in runs)
        val_best = mean(max(run.column(val_col)) for run in runs)
        gap = mean(run.history[-1][train_col] - run.history[-1][val_col] for run in runs)
        if train_best >= reference - UNDERFIT_MARGIN or gap > OVERFIT_GAP:
            return None
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
            space={"training.epochs": {"type": "int", "low": 2 * epochs, "high": 5 * epochs}},
        ))
        if "lr_too_high" not in ctx.found:
            new = ctx.probe_lr() or min(10 * ctx.lr, LR_RANGES[cfg.optimizer.name][1])
            if new > ctx.lr:
                recs.append(set_lr(ctx, new, self.id, lower(primary), ctx.gain(room, 0.0, 0.4),
                                   "a larger step size escapes the plateau sooner", raise_=True))
        return recs
