"""The learning rate: too high (divergence, spikes, oscillation) or too low (a slow fall)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phases.diagnostic.answers import Recommendation, grad_clip, lower, schedule, set_lr
from phases.diagnostic.config_analysis import LR_RANGES
from phases.diagnostic.evidence import Evidence, mean
from phases.diagnostic.rules._base import Finding, Rule, Severity, having, majority, r
from phases.diagnostic.rules._fit import UNDERFIT_ACCURACY

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority

__all__ = ["LrTooHigh", "LrTooLow"]

# too high: a spike is an epoch whose train loss is 1.5x the previous one and rose by at
# least 10% of the first epoch's loss; oscillation is the train loss changing direction on
# at least half of its significant moves (5% of the first loss), 3 times or more
SPIKE_FACTOR = 1.5
SPIKE_MIN_RISE = 0.10
OSCILLATION_FRACTION = 0.5
OSCILLATION_MIN_MOVE = 0.05
OSCILLATION_MIN_CHANGES = 3
# too low: the first half of the epochs made less than 60% of the run's train-loss drop
# while it still falls at the end, or the whole run cut it by under 20%
LOW_LR_MIN_EPOCHS = 4
LOW_LR_FIRST_HALF_SHARE = 0.60
LOW_LR_TOTAL_REDUCTION = 0.20
# the range test's suggestion: an lr this many times above it is too high; one more than
# PROBE_LOW_FACTOR times above it is not too low, however slowly the loss fell
PROBE_TOO_FAR = 10.0
PROBE_LOW_FACTOR = 3.0


def probe_suggestion(ev: Evidence) -> float | None:
    """The lr range test's suggestion, when it ran and made one."""
    value = (ev.probes.get("lr_range") or {}).get("suggested_lr")
    return float(value) if value else None


class LrTooHigh(Rule):
    id = "lr_too_high"
    reads = ("optimizer.lr",)
    title = "Learning rate too high"
    # heavy dropout makes the train loss bounce from batch to batch at any lr
    explained_by = ("input_scale", "adam_betas", "heavy_regularization")
    hides_others = True
    answers = ("lower_lr", "grad_clip", "lr_schedule")
    settings = ("optimizer.lr",)

    def check(self, ev: Evidence) -> Finding | None:
        lr = ev.config.optimizer.lr
        diverged = ev.diverged
        runs = having(ev.usable, "train_loss")
        spiky, oscillating, spikes, fractions = [], [], 0, []
        for run in runs:
            loss = run.column("train_loss")
            first = loss[0]
            count = sum(
                1
                for a, b in zip(loss, loss[1:], strict=False)
                if b > SPIKE_FACTOR * a and b - a > SPIKE_MIN_RISE * first
            )
            spikes += count
            if count:
                spiky.append(run.seed)
            steps = [b - a for a, b in zip(loss, loss[1:], strict=False)]
            moves = [d for d in steps if abs(d) > OSCILLATION_MIN_MOVE * first]
            changes = sum(1 for a, b in zip(moves, moves[1:], strict=False) if (a > 0) != (b > 0))
            fraction = changes / (len(moves) - 1) if len(moves) > 1 else 0.0
            fractions.append(fraction)
            if changes >= OSCILLATION_MIN_CHANGES and fraction >= OSCILLATION_FRACTION:
                oscillating.append(run.seed)
        by_spikes = majority(len(spiky), len(runs))
        by_oscillation = majority(len(oscillating), len(runs))
        suggested = probe_suggestion(ev)
        by_probe = suggested is not None and lr > PROBE_TOO_FAR * suggested
        if not (diverged or by_spikes or by_oscillation or by_probe):
            return None
        parts = []
        if diverged:
            epochs = [run.diverged_epoch for run in diverged if run.diverged_epoch is not None]
            when = f" (first at epoch {min(epochs)})" if epochs else ""
            parts.append(f"{len(diverged)} of {len(ev.runs)} seeds diverged at lr {lr:g}{when}")
        if by_spikes:
            parts.append(
                f"{spikes} loss spikes (>{SPIKE_FACTOR:g}x) in {len(spiky)} of {len(runs)} seeds"
            )
        if by_oscillation:
            parts.append(
                f"train loss changed direction on {100 * mean(fractions):.0f}% of its moves in "
                f"{len(oscillating)} of {len(runs)} seeds"
            )
        if by_probe and suggested is not None:
            parts.append(f"the range test suggests {suggested:.2g}, {lr / suggested:.0f}x below "
                         f"lr {lr:g}")
        severity: Severity = (
            "high" if diverged or by_probe or spikes >= 2 * max(1, len(spiky)) else "medium")
        first_epoch = min((run.diverged_epoch for run in diverged if run.diverged_epoch),
                          default=None)
        return self.found(severity, {
            "lr": lr,
            "diverged_seeds": len(diverged),
            "seeds": len(ev.runs),
            "first_divergence_epoch": first_epoch,
            "spikes": spikes,
            "seeds_with_spikes": len(spiky),
            "seeds_oscillating": len(oscillating),
            "oscillation_pct": r(100 * mean(fractions), 1) if fractions else 0.0,
            "range_test_lr": suggested,
        }, "; ".join(parts),
            seeds=sorted({run.seed for run in diverged} | set(spiky) | set(oscillating)))

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        seeds = max(1, int(finding.evidence.get("seeds", 1)))
        share = int(finding.evidence.get("diverged_seeds", 0)) / seeds
        room = ctx.headroom * (share + (1 - share) * 0.3)
        factor = 10.0 if share > 0 else 3.0
        # never above the top of the optimizer's usual range: lr 5 with Adam becomes 0.01
        new = ctx.probe_lr() or min(ctx.lr / factor, LR_RANGES[ctx.config.optimizer.name][1])
        recs = [
            set_lr(ctx, new, self.id, primary, ctx.gain(room, 0.4, 0.9),
                   "the loss blows up or bounces: smaller steps stay inside the basin",
                   raise_=False)
        ]
        recs += grad_clip(ctx, self.id, lower(primary), ctx.gain(room, 0.1, 0.4))
        recs += schedule(ctx, self.id, lower(primary), ctx.gain(room, 0.05, 0.3), warmup=True)
        return recs


class LrTooLow(Rule):
    id = "lr_too_low"
    reads = ("optimizer.lr",)
    title = "Learning rate too low"
    # a model held back (plain SGD, few steps, frozen, over-regularized, too small) falls
    # slowly at any lr
    explained_by = ("sgd_no_momentum", "few_steps", "frozen_layers", "heavy_regularization",
                    "too_little_capacity", "early_stopping_eager")
    hides_others = True
    answers = ("raise_lr", "lr_schedule")
    settings = ("optimizer.lr",)

    def check(self, ev: Evidence) -> Finding | None:
        suggested = probe_suggestion(ev)
        lr = ev.config.optimizer.lr
        if suggested is not None and lr > PROBE_LOW_FACTOR * suggested:
            return None  # the range test says the lr is not low: a stuck run is not slow
        if suggested is not None and lr * PROBE_TOO_FAR < suggested and ev.usable:
            return self.found("high", {"lr": lr, "range_test_lr": suggested,
                                       "factor": r(suggested / lr, 1)},
                              f"the range test suggests lr {suggested:.2g}, {suggested / lr:.0f}x "
                              f"above lr {lr:g}", seeds=[run.seed for run in ev.usable])
        runs = [run for run in having(ev.usable, "train_loss")
                if len(run.history) >= LOW_LR_MIN_EPOCHS]
        if not runs:
            return None
        flagged, stuck, shares, totals, first, last = [], [], [], [], [], []
        for run in runs:
            loss = run.column("train_loss")
            start, low = loss[0], min(loss)
            total = (start - low) / start if start > 0 else 0.0
            half = len(loss) // 2
            share = (start - min(loss[:half])) / (start - low) if start > low else 0.0
            still_falling = loss[-1] < loss[-2] and loss[-1] <= low * (1 + 1e-9)
            train_acc = run.history[-1].get("train_accuracy", 0.0)
            is_stuck = total < LOW_LR_TOTAL_REDUCTION and train_acc < UNDERFIT_ACCURACY
            if (share < LOW_LR_FIRST_HALF_SHARE and still_falling) or is_stuck:
                flagged.append(run.seed)
            if is_stuck:
                stuck.append(run.seed)
            shares.append(share)
            totals.append(total)
            first.append(start)
            last.append(loss[-1])
        if not majority(len(flagged), len(runs)):
            return None
        lr = ev.config.optimizer.lr
        severity: Severity = "high" if majority(len(stuck), len(runs)) else "medium"
        text = (
            f"at lr {lr:g} train loss fell only from {mean(first):.3f} to {mean(last):.3f} "
            f"({100 * mean(totals):.0f}%), with {100 * mean(shares):.0f}% of that drop in the "
            f"first half of the epochs (a healthy run makes most of it early), in {len(flagged)} "
            f"of {len(runs)} seeds"
        )
        return self.found(severity, {
            "lr": lr,
            "train_loss_first": r(mean(first), 4),
            "train_loss_last": r(mean(last), 4),
            "total_reduction_pct": r(100 * mean(totals), 1),
            "first_half_share_pct": r(100 * mean(shares), 1),
            "seeds_flagged": len(flagged),
            "seeds": len(runs),
        }, text, seeds=flagged)

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        room = ctx.headroom * 0.5
        # 10x, but not past the top of the optimizer's usual range (unless it is already there)
        high = LR_RANGES[ctx.config.optimizer.name][1]
        new = ctx.probe_lr() or max(min(10 * ctx.lr, high), 3 * ctx.lr)
        recs = [
            set_lr(ctx, new, self.id, primary, ctx.gain(room, 0.3, 0.8),
                   "the loss falls slowly and steadily: larger steps cover the same ground "
                   "sooner", raise_=True)
        ]
        recs += schedule(ctx, self.id, lower(primary), ctx.gain(room, 0.1, 0.4), warmup=True)
        return recs
