"""Findings: what the baseline's curves and config say is wrong, each with its numbers.

Each check is a small function of the `Evidence` (every seed's history, the
config and the project's target) returning the findings it makes, usually zero
or one. A finding has an id, a title, a severity, its evidence as numbers and
one sentence that says it with those numbers. `find_all` runs every check, then
marks the findings another one explains (an underfit caused by a diverging
learning rate is a symptom, not a root cause).

Accuracies in evidence are points (percent); a "majority" of seeds is more than
half of the usable ones. The thresholds below are the whole policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist
from typing import Any, Literal

from phases.diagnostic.config_analysis import analyze_config
from phases.diagnostic.evidence import Evidence, SeedRun, mean, std

__all__ = [
    "CHECKS",
    "Finding",
    "Severity",
    "class_imbalance",
    "config_gaps",
    "convergence",
    "early_stopping",
    "find_all",
    "lr_too_high",
    "lr_too_low",
    "overfitting",
    "resource_waste",
    "seed_noise",
    "underfitting",
]

# ---- thresholds -------------------------------------------------------------------------
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
PLATEAU_WINDOW = 0.25
PLATEAU_REL_CHANGE = 0.02
# learning rate too high: a spike is an epoch whose train loss is 1.5x the previous one and
# rose by at least 10% of the first epoch's loss; oscillation is the train loss changing
# direction on at least half of its significant moves (5% of the first loss), 3 times or more
SPIKE_FACTOR = 1.5
SPIKE_MIN_RISE = 0.10
OSCILLATION_FRACTION = 0.5
OSCILLATION_MIN_MOVE = 0.05
OSCILLATION_MIN_CHANGES = 3
# learning rate too low: the first half of the epochs made less than 60% of the run's
# train-loss drop while it still falls at the end, or the whole run cut it by under 20%
LOW_LR_MIN_EPOCHS = 4
LOW_LR_FIRST_HALF_SHARE = 0.60
LOW_LR_TOTAL_REDUCTION = 0.20
# convergence: still improving by 0.5 points (a rate) or 1% (a loss) in the last quarter
# of the epochs, or the best epoch within the first 40% of them
LATE_WINDOW = 0.25
STILL_IMPROVING_POINTS = 0.5
STILL_IMPROVING_LOSS_REL = 0.01
NOT_CONVERGED_HIGH_POINTS = 2.0
SATURATED_FRACTION = 0.40
# early stopping: stopping within the first 30% of the epochs or with a patience under 3
# is eager; never stopping while the target peaked in the first half means it never fires
EAGER_FRACTION = 0.30
EAGER_PATIENCE = 3
NEVER_FIRES_FRACTION = 0.50
# resources: waiting on data for over 30% of a training epoch; under 1,000 samples/s
# with a batch under 32 (judged only on epochs of 10 steps or more: on fewer, fixed
# per-epoch costs dominate the measure)
DATA_WAIT_FRACTION = 0.30
DATA_WAIT_HIGH = 0.50
LOW_THROUGHPUT = 1000.0
SMALL_BATCH = 32
THROUGHPUT_MIN_STEPS = 10
# seed noise: the seeds per arm a one-sided test at the project's alpha needs, with this
# power, to detect the project's min_effect given the baseline's spread across seeds
SEED_NOISE_POWER = 0.80
# class imbalance: accuracy this far above balanced accuracy at the best epoch
IMBALANCE_GAP = 0.05
IMBALANCE_GAP_HIGH = 0.10

Severity = Literal["high", "medium", "low"]
SEVERITY_RANK: dict[str, int] = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem: what, how bad, and the numbers that show it."""

    id: str
    title: str
    severity: Severity
    evidence: dict[str, Any]
    text: str
    root_cause: bool = True
    explained_by: str | None = None
    seeds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- helpers ----------------------------------------------------------------------------


def _r(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def _pts(value: float) -> float:
    return _r(100.0 * value, 2)


def _majority(count: int, total: int) -> bool:
    return total > 0 and 2 * count > total


def _with(runs: Sequence[SeedRun], *columns: str) -> list[SeedRun]:
    return [run for run in runs if all(run.has(c) for c in columns)]


def _window(n: int) -> int:
    return max(2, math.ceil(n * LATE_WINDOW))


# ---- the checks -------------------------------------------------------------------------


def overfitting(ev: Evidence) -> list[Finding]:
    runs = _with(ev.usable, "train_accuracy", "val_accuracy", "train_loss", "val_loss")
    if not runs:
        return []
    train_last = mean(r.history[-1]["train_accuracy"] for r in runs)
    val_last = mean(r.history[-1]["val_accuracy"] for r in runs)
    gap = train_last - val_last
    rising, min_epochs, rises = [], [], []
    for run in runs:
        val_loss, train_loss = run.column("val_loss"), run.column("train_loss")
        low = ev.best_index(val_loss, "min")
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
    by_loss = _majority(len(rising), len(runs))
    if not (by_gap or by_loss):
        return []
    severity: Severity = "high" if gap > OVERFIT_GAP_HIGH or (by_gap and by_loss) else "medium"
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
            f"{mean(min_epochs):.0f}) in {len(rising)} of {len(runs)} seeds while train loss fell"
        )
    return [
        Finding(
            id="overfitting",
            title="Overfitting",
            severity=severity,
            evidence={
                "train_accuracy": _pts(train_last),
                "val_accuracy": _pts(val_last),
                "gap_points": _pts(gap),
                "gap_threshold_points": _pts(OVERFIT_GAP),
                "val_loss_min_epoch": _r(mean(min_epochs), 1),
                "val_loss_rise_pct": _r(100 * mean(rises), 1),
                "seeds_val_loss_rising": len(rising),
                "seeds": len(runs),
            },
            text=_sentence("; ".join(parts)),
            seeds=[r.seed for r in runs],
        )
    ]


def underfitting(ev: Evidence) -> list[Finding]:
    train_col = "train_accuracy"
    reference, source = UNDERFIT_ACCURACY, "the underfitting floor"
    if ev.goal is not None and ev.is_rate and ev.higher_is_better and ev.metric.startswith("val_"):
        train_col = "train_" + ev.metric.removeprefix("val_")
        reference, source = ev.goal, "the project's goal"
    val_col = "val_" + train_col.removeprefix("train_")
    runs = _with(ev.usable, train_col, val_col, "train_loss")
    if not runs:
        return []
    train_best = mean(max(r.column(train_col)) for r in runs)
    val_best = mean(max(r.column(val_col)) for r in runs)
    gap = mean(r.history[-1][train_col] - r.history[-1][val_col] for r in runs)
    if train_best >= reference - UNDERFIT_MARGIN or gap > OVERFIT_GAP:
        return []
    changes, final_loss = [], []
    for run in runs:
        loss = run.column("train_loss")
        w = min(len(loss) - 1, _window(len(loss)))
        start = loss[-1 - w] if w > 0 else loss[0]
        changes.append(abs(start - loss[-1]) / start if start > 0 else 0.0)
        final_loss.append(loss[-1])
    plateau = mean(changes) < PLATEAU_REL_CHANGE
    severity: Severity = "high" if train_best < reference - UNDERFIT_MARGIN_HIGH else "medium"
    text = (
        f"train accuracy peaks at {100 * train_best:.1f}% and val at {100 * val_best:.1f}%, "
        f"both below the {100 * reference:.1f}% of {source}; train loss ends at "
        f"{mean(final_loss):.3f}, moving {100 * mean(changes):.1f}% over the last quarter"
        + (" (a plateau)" if plateau else "")
    )
    return [
        Finding(
            id="underfitting",
            title="Underfitting",
            severity=severity,
            evidence={
                "train_accuracy_best": _pts(train_best),
                "val_accuracy_best": _pts(val_best),
                "reference": _pts(reference),
                "shortfall_points": _pts(reference - train_best),
                "train_loss_last": _r(mean(final_loss), 4),
                "train_loss_change_last_quarter_pct": _r(100 * mean(changes), 2),
                "plateau": plateau,
                "seeds": len(runs),
            },
            text=_sentence(text),
            seeds=[r.seed for r in runs],
        )
    ]


def lr_too_high(ev: Evidence) -> list[Finding]:
    lr = ev.config.optimizer.lr
    diverged = ev.diverged
    runs = _with(ev.usable, "train_loss")
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
    by_spikes = _majority(len(spiky), len(runs))
    by_oscillation = _majority(len(oscillating), len(runs))
    if not (diverged or by_spikes or by_oscillation):
        return []
    parts = []
    if diverged:
        epochs = [r.diverged_epoch for r in diverged if r.diverged_epoch is not None]
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
    severity: Severity = "high" if diverged or spikes >= 2 * max(1, len(spiky)) else "medium"
    first_epoch = min((r.diverged_epoch for r in diverged if r.diverged_epoch), default=None)
    return [
        Finding(
            id="lr_too_high",
            title="Learning rate too high",
            severity=severity,
            evidence={
                "lr": lr,
                "diverged_seeds": len(diverged),
                "seeds": len(ev.runs),
                "first_divergence_epoch": first_epoch,
                "spikes": spikes,
                "seeds_with_spikes": len(spiky),
                "seeds_oscillating": len(oscillating),
                "oscillation_pct": _r(100 * mean(fractions), 1) if fractions else 0.0,
            },
            text=_sentence("; ".join(parts)),
            seeds=sorted({r.seed for r in diverged} | set(spiky) | set(oscillating)),
        )
    ]


def lr_too_low(ev: Evidence) -> list[Finding]:
    runs = [r for r in _with(ev.usable, "train_loss") if len(r.history) >= LOW_LR_MIN_EPOCHS]
    if not runs:
        return []
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
    if not _majority(len(flagged), len(runs)):
        return []
    lr = ev.config.optimizer.lr
    severity: Severity = "high" if _majority(len(stuck), len(runs)) else "medium"
    text = (
        f"at lr {lr:g} train loss fell only from {mean(first):.3f} to {mean(last):.3f} "
        f"({100 * mean(totals):.0f}%), with {100 * mean(shares):.0f}% of that drop in the first "
        f"half of the epochs (a healthy run makes most of it early), in {len(flagged)} of "
        f"{len(runs)} seeds"
    )
    return [
        Finding(
            id="lr_too_low",
            title="Learning rate too low",
            severity=severity,
            evidence={
                "lr": lr,
                "train_loss_first": _r(mean(first), 4),
                "train_loss_last": _r(mean(last), 4),
                "total_reduction_pct": _r(100 * mean(totals), 1),
                "first_half_share_pct": _r(100 * mean(shares), 1),
                "seeds_flagged": len(flagged),
                "seeds": len(runs),
            },
            text=_sentence(text),
            seeds=flagged,
        )
    ]


def convergence(ev: Evidence) -> list[Finding]:
    """Not converged (still improving at the last epoch) or saturated early (train shorter)."""
    runs = [
        r for r in _with(ev.usable, ev.metric) if r.status == "completed" and len(r.history) >= 4
    ]
    if not runs:
        return []
    improving, saturated, gains, best_epochs, lengths = [], [], [], [], []
    mode = "max" if ev.higher_is_better else "min"
    for run in runs:
        values = run.column(ev.metric)
        n = len(values)
        w = _window(n)
        before, late = values[: n - w], values[n - w :]
        best_before = max(before) if ev.higher_is_better else min(before)
        best_late = max(late) if ev.higher_is_better else min(late)
        diff = (best_late - best_before) * (1 if ev.higher_is_better else -1)
        if ev.is_rate:
            gain = 100 * diff
            still = gain > STILL_IMPROVING_POINTS
        else:  # a loss: the gain relative to the best before the window, in percent
            gain = 100 * diff / abs(best_before) if best_before else 0.0
            still = gain > 100 * STILL_IMPROVING_LOSS_REL
        best = ev.best_index(values, mode) + 1
        gains.append(gain)
        best_epochs.append(best)
        lengths.append(n)
        if still:
            improving.append(run.seed)
        if best <= SATURATED_FRACTION * n:
            saturated.append(run.seed)
    unit = "points" if ev.is_rate else "%"
    findings = []
    if _majority(len(improving), len(runs)):
        severity: Severity = "high" if mean(gains) > NOT_CONVERGED_HIGH_POINTS else "medium"
        findings.append(
            Finding(
                id="not_converged",
                title="Not converged: still improving at the last epoch",
                severity=severity,
                evidence={
                    "late_gain": _r(mean(gains), 2),
                    "late_gain_unit": unit,
                    "window_epochs": _window(int(mean(lengths))),
                    "best_epoch": _r(mean(best_epochs), 1),
                    "epochs": _r(mean(lengths), 1),
                    "seeds_improving": len(improving),
                    "seeds": len(runs),
                },
                text=_sentence(
                    f"the target {ev.metric} still gained {mean(gains):.2f} {unit} in the last "
                    f"{_window(int(mean(lengths)))} of {mean(lengths):.0f} epochs in "
                    f"{len(improving)} of {len(runs)} seeds (best epoch {mean(best_epochs):.1f}): "
                    "train longer"
                ),
                seeds=improving,
            )
        )
    elif _majority(len(saturated), len(runs)):
        idle = 1 - mean(best_epochs) / mean(lengths)
        findings.append(
            Finding(
                id="saturated_early",
                title="Saturated early: the best epoch comes early",
                severity="low",
                evidence={
                    "best_epoch": _r(mean(best_epochs), 1),
                    "epochs": _r(mean(lengths), 1),
                    "idle_epochs_pct": _r(100 * idle, 1),
                    "seeds_saturated": len(saturated),
                    "seeds": len(runs),
                },
                text=_sentence(
                    f"the target {ev.metric} peaked at epoch {mean(best_epochs):.1f} of "
                    f"{mean(lengths):.0f} on average ({len(saturated)} of {len(runs)} seeds "
                    f"within the first {100 * SATURATED_FRACTION:.0f}%), so "
                    f"{100 * idle:.0f}% of the epochs bought nothing: train shorter"
                ),
                seeds=saturated,
            )
        )
    return findings


def early_stopping(ev: Evidence) -> list[Finding]:
    """Early stopping that stops too soon, or that is configured but never fires."""
    es = ev.config.training.early_stopping
    runs = _with(ev.usable, ev.metric)
    if es is None or not runs:
        return []
    configured = ev.epochs_configured
    stopped = [r for r in runs if r.status == "early_stopped"]
    base = {
        "patience": es.patience,
        "min_delta": es.min_delta,
        "monitor": es.monitor,
        "epochs_configured": configured,
        "seeds_stopped": len(stopped),
        "seeds": len(runs),
    }
    if _majority(len(stopped), len(runs)):
        stop_epoch = mean(len(r.history) for r in stopped)
        drops = []
        for run in stopped:
            loss = run.column("train_loss")
            back = min(len(loss) - 1, es.patience)
            drops.append((loss[-1 - back] - loss[-1]) / loss[-1 - back] if loss[-1 - back] else 0)
        if stop_epoch < EAGER_FRACTION * configured or es.patience < EAGER_PATIENCE:
            return [
                Finding(
                    id="early_stopping_eager",
                    title="Early stopping too eager",
                    severity="medium",
                    evidence={
                        **base,
                        "stop_epoch": _r(stop_epoch, 1),
                        "train_loss_drop_last_patience_pct": _r(100 * mean(drops), 1),
                    },
                    text=_sentence(
                        f"early stopping (patience {es.patience}) ended {len(stopped)} of "
                        f"{len(runs)} seeds at epoch {stop_epoch:.1f} of {configured}, while "
                        f"train loss was still falling {100 * mean(drops):.0f}% over the last "
                        f"{es.patience} epochs"
                    ),
                    seeds=[r.seed for r in stopped],
                )
            ]
        return []
    if stopped:
        return []
    mode = "max" if ev.higher_is_better else "min"
    best = mean(ev.best_index(r.column(ev.metric), mode) + 1 for r in runs)
    length = mean(len(r.history) for r in runs)
    if best > NEVER_FIRES_FRACTION * length and es.patience < configured:
        return []
    why = (
        f"its patience ({es.patience}) is not below the {configured} epochs"
        if es.patience >= configured
        else f"{es.monitor} kept improving by tiny amounts (min_delta {es.min_delta:g})"
    )
    return [
        Finding(
            id="early_stopping_never_fires",
            title="Early stopping never fires",
            severity="low",
            evidence={**base, "best_epoch": _r(best, 1), "epochs": _r(length, 1)},
            text=_sentence(
                f"early stopping is configured but no seed stopped, although {ev.metric} peaked "
                f"at epoch {best:.1f} of {length:.0f}: {why}"
            ),
            root_cause=False,
            seeds=[r.seed for r in runs],
        )
    ]


def config_gaps(ev: Evidence) -> list[Finding]:
    rows = analyze_config(ev.config, ev)
    missing = [row for row in rows if row.status == "missing"]
    warnings = [row for row in rows if row.status == "warning"]
    if not missing and not warnings:
        return []
    severity: Severity = "medium" if len(missing) >= 2 else "low"
    named = ", ".join(f"{row.setting} ({row.status})" for row in missing + warnings)
    return [
        Finding(
            id="config_gaps",
            title="Config gaps",
            severity=severity,
            evidence={
                "missing": len(missing),
                "warnings": len(warnings),
                "settings": [row.setting for row in missing + warnings],
            },
            text=_sentence(
                f"{len(missing)} settings are missing and {len(warnings)} need a look: {named}"
            ),
            root_cause=False,
        )
    ]


def resource_waste(ev: Evidence) -> list[Finding]:
    runs = _with(ev.usable, "data_wait_fraction", "samples_per_sec")
    if not runs:
        return []
    wait = mean(row["data_wait_fraction"] for r in runs for row in r.history)
    speed = mean(row["samples_per_sec"] for r in runs for row in r.history)
    batch = ev.config.data.batch_size
    sizes = [r.train_size for r in runs if r.train_size]
    seen = min(sizes) if sizes else mean(
        row["samples_per_sec"] * row.get("epoch_time", math.inf) for r in runs for row in r.history
    )
    waiting = wait > DATA_WAIT_FRACTION
    slow = speed < LOW_THROUGHPUT and batch < SMALL_BATCH and seen / batch >= THROUGHPUT_MIN_STEPS
    if not (waiting or slow):
        return []
    parts = []
    if waiting:
        parts.append(
            f"training waited on data for {100 * wait:.0f}% of each epoch "
            f"(threshold {100 * DATA_WAIT_FRACTION:.0f}%)"
        )
    if slow:
        parts.append(f"throughput is {speed:.0f} samples/s with a batch of {batch}")
    severity: Severity = "high" if wait > DATA_WAIT_HIGH else "medium" if waiting else "low"
    return [
        Finding(
            id="resource_waste",
            title="Resource waste",
            severity=severity,
            evidence={
                "data_wait_pct": _r(100 * wait, 1),
                "data_wait_threshold_pct": _r(100 * DATA_WAIT_FRACTION, 1),
                "samples_per_sec": _r(speed, 1),
                "batch_size": batch,
            },
            text=_sentence("; ".join(parts)),
            root_cause=False,
            seeds=[r.seed for r in runs],
        )
    ]


def seeds_needed(spread: float, min_effect: float, alpha: float, power: float) -> int:
    """Seeds per arm for a one-sided two-sample test to detect `min_effect` (normal approx.)."""
    z = NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(2 * (z * spread / min_effect) ** 2))


def seed_noise(ev: Evidence) -> list[Finding]:
    values = ev.target_values()
    if len(values) < 2 or ev.min_effect <= 0:
        return []
    spread = std(values)
    n = len(ev.runs)
    needed = seeds_needed(spread, ev.min_effect, ev.alpha, SEED_NOISE_POWER)
    if needed <= n:
        return []
    z = NormalDist().inv_cdf(1 - ev.alpha) + NormalDist().inv_cdf(SEED_NOISE_POWER)
    detectable = z * spread * math.sqrt(2 / n)
    scale = 100.0 if ev.is_rate else 1.0
    unit = "points" if ev.is_rate else ""
    return [
        Finding(
            id="seed_noise",
            title="Seed noise too large for the gains sought",
            severity="high" if needed > 2 * n else "medium",
            evidence={
                "std": _r(scale * spread, 3),
                "min_effect": _r(scale * ev.min_effect, 3),
                "detectable_effect": _r(scale * detectable, 3),
                "unit": unit or ev.metric,
                "seeds": n,
                "seeds_needed": needed,
                "power": SEED_NOISE_POWER,
            },
            text=_sentence(
                f"the target {ev.metric} varies by {scale * spread:.2f} {unit} (std) across "
                f"{len(values)} seeds, so {n} seeds per arm detect only effects of about "
                f"{scale * detectable:.2f} {unit}, not the {scale * ev.min_effect:.2f} sought; "
                f"about {needed} seeds per arm are needed ({100 * SEED_NOISE_POWER:.0f}% power)"
            ),
            root_cause=False,
        )
    ]


def class_imbalance(ev: Evidence) -> list[Finding]:
    runs = _with(ev.usable, "val_accuracy", "val_balanced_accuracy")
    if not runs:
        return []
    rows = [ev.best_row(r) for r in runs]
    accuracy = mean(row["val_accuracy"] for row in rows)
    balanced = mean(row["val_balanced_accuracy"] for row in rows)
    gap = accuracy - balanced
    if gap <= IMBALANCE_GAP:
        return []
    return [
        Finding(
            id="class_imbalance",
            title="Class imbalance",
            severity="high" if gap > IMBALANCE_GAP_HIGH else "medium",
            evidence={
                "val_accuracy": _pts(accuracy),
                "val_balanced_accuracy": _pts(balanced),
                "gap_points": _pts(gap),
                "gap_threshold_points": _pts(IMBALANCE_GAP),
            },
            text=_sentence(
                f"val balanced accuracy ({100 * balanced:.1f}%) is {100 * gap:.1f} points below "
                f"val accuracy ({100 * accuracy:.1f}%): the rare classes are mostly missed"
            ),
            seeds=[r.seed for r in runs],
        )
    ]


# every check, in the order findings are reported when severities tie
CHECKS: tuple[Callable[[Evidence], list[Finding]], ...] = (
    lr_too_high,
    overfitting,
    underfitting,
    lr_too_low,
    convergence,
    early_stopping,
    class_imbalance,
    seed_noise,
    resource_waste,
    config_gaps,
)

# a finding on the left is a symptom when one on the right is found too
EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    "underfitting": ("lr_too_high", "lr_too_low", "early_stopping_eager"),
    "not_converged": ("lr_too_low",),
    "saturated_early": ("overfitting", "lr_too_high"),
    "lr_too_low": ("early_stopping_eager",),
}


def find_all(ev: Evidence, checks: Sequence[Callable[[Evidence], list[Finding]]] = CHECKS) -> list[
    Finding
]:
    """Every finding, symptoms marked, sorted by severity (then by the order of CHECKS)."""
    found = [finding for check in checks for finding in check(ev)]
    ids = {f.id for f in found}
    marked = []
    for finding in found:
        cause = next((c for c in EXPLAINED_BY.get(finding.id, ()) if c in ids), None)
        if cause is not None:
            finding = replace(finding, root_cause=False, explained_by=cause)
        marked.append(finding)
    order = {f.id: i for i, f in enumerate(marked)}
    return sorted(marked, key=lambda f: (SEVERITY_RANK[f.severity], order[f.id]))


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
