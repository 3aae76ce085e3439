"""Expected gains from evidence: probe runs of the change, this project's record, else a prior.

Every recommendation's expected gain is an interval, in points of the target
(`Metric.points`), for what Phase 4 will measure: the mean over its seeds of the
candidate's gain on the baseline. Its basis, in order of trust:

1. **probe**: the change trained in full on n of the project's seeds (a seed or
   two: `probes.trials`, run by `phases.diagnostic.probes.trial_runs`). Phase 4
   will measure the candidate's mean over all m seeds against the baseline's mean
   over the same m seeds, which is known already; so the gains d_i are each trial
   run's score against the baseline's mean, and only the m - n seeds not yet run
   are unknown: the interval is mean(d) +- 2 s sqrt((m - n) / (m n)) (at least
   sqrt(1 / 2m)). s, the candidate's spread across seeds, is the larger of the
   trial runs' own spread, the baseline's spread (capped at SPREAD_CAP: a broken
   baseline scatters far more than a working candidate) and SD_FLOOR.
2. **record**: an earlier Phase 4 attempt of this project applied the same
   changes: its measured gain with its 95% interval.
3. **prior**: no measurement. The answer's share of the headroom (as before
   issue 12), widened to start at 0: it says "unknown, at most this".

The record (`Record`) also calibrates: each earlier prediction of the project that
Phase 4 measured is scored (held: the measured gain fell inside), and when past
probe predictions missed, later half-widths grow by the 80th percentile of
|measured - centre| / half-width (never shrink below the formula).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.evidence import Evidence, std

__all__ = ["Outcome", "Record", "change_key", "interval", "predict", "trial_gains"]

SD_FLOOR = 0.5  # points: no prediction is tighter than two runs' rounding noise
SPREAD_CAP = 2.0  # points: the most of the baseline's spread taken as the candidate's
Z = 2.0


def change_key(changes: Mapping[str, Any]) -> str:
    """One canonical string per set of changes (as Phase 4's `targeted.change_key`)."""
    return json.dumps(dict(changes), sort_keys=True, default=str)


@dataclass(frozen=True)
class Outcome:
    """One earlier prediction and what Phase 4 measured of it."""

    key: str  # change_key of the changes the attempt applied
    low: float
    high: float
    measured: float  # points
    basis: str
    measured_low: float | None = None
    measured_high: float | None = None

    @property
    def held(self) -> bool:
        return self.low <= self.measured <= self.high

    @property
    def miss(self) -> float:
        """|measured - centre| in half-widths (1: on the edge)."""
        half = max((self.high - self.low) / 2, 1e-9)
        return abs(self.measured - (self.low + self.high) / 2) / half

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "low": self.low, "high": self.high, "measured": self.measured,
                "basis": self.basis, "held": self.held,
                "measured_low": self.measured_low, "measured_high": self.measured_high}


@dataclass(frozen=True)
class Record:
    """This project's earlier predictions and Phase 4's measurements of them."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def widen(self) -> float:
        """How much to widen a probe's interval: the 80th percentile of past misses, >= 1."""
        misses = sorted(o.miss for o in self.outcomes if o.basis == "probe")
        if len(misses) < 2:
            return 1.0
        return max(1.0, misses[min(len(misses) - 1, math.ceil(0.8 * len(misses)) - 1)])

    def measured(self, key: str) -> Outcome | None:
        """The latest measurement of exactly these changes."""
        return next((o for o in reversed(self.outcomes) if o.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        held = [o.held for o in self.outcomes]
        return {"outcomes": [o.to_dict() for o in self.outcomes],
                "held": sum(held), "measured": len(held), "widen": self.widen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Record:
        items = (data or {}).get("outcomes") or []
        return cls([Outcome(str(o["key"]), float(o["low"]), float(o["high"]),
                            float(o["measured"]), str(o.get("basis", "prior")),
                            o.get("measured_low"), o.get("measured_high")) for o in items])


def interval(gains: Sequence[float], spread: float, compared_on: int, widen: float = 1.0
             ) -> tuple[float, float]:
    """The ~95% prediction interval of Phase 4's mean gain over `compared_on` seeds, from
    `gains` (points: each trial run against the baseline's mean) and the baseline's spread."""
    n, m = len(gains), max(1, compared_on)
    centre = statistics.fmean(gains)
    own = statistics.stdev(gains) if n >= 2 else 0.0
    s = max(own, min(spread, SPREAD_CAP), SD_FLOOR)
    share = max((m - n) / (m * n), 1 / (2 * m))
    half = Z * s * math.sqrt(share) * widen
    return round(centre - half, 1), round(centre + half, 1)


def trial_gains(ev: Evidence, key: str) -> list[float] | None:
    """Each trial run of `key` against the baseline's mean over all its usable seeds (points):
    what Phase 4 will measure, one seed at a time."""
    trials = ev.probes.get("trials") or {}
    run = next((t for t in trials.get("runs", []) if t.get("key") == key), None)
    values = ev.target_values()
    if run is None or not values:
        return None
    target = ev.target
    reference = statistics.fmean(values)
    gains = []
    for value in (run.get("values") or {}).values():
        if value is None or not math.isfinite(float(value)):  # the change diverged
            value = _worst(ev)
        gains.append(target.points(target.oriented(float(value) - reference), reference))
    return gains or None


def _worst(ev: Evidence) -> float:
    """A diverged probe run's score: the worst the baseline's seeds saw, else 0."""
    values = ev.target_values()
    if not values:
        return 0.0
    return min(values) if ev.target.higher_is_better else max(values)


def predict(recs: Sequence[Recommendation], ev: Evidence, record: Record | None = None
            ) -> list[Recommendation]:
    """`recs` with each expected gain from its best basis (see the module docstring)."""
    record = record or Record()
    values = ev.target_values()
    reference = statistics.fmean(values) if values else None
    spread = ev.target.points(std(values), reference) if len(values) >= 2 else SD_FLOOR
    if not math.isfinite(spread):
        spread = SD_FLOOR
    compared_on = max(1, len(ev.runs))
    out = []
    for rec in recs:
        key = change_key(rec.changes)
        gains = trial_gains(ev, key) if rec.changes else None
        past = record.measured(key) if rec.changes else None
        if gains:
            low, high = interval(gains, spread, compared_on, record.widen)
            seeds = len(gains)
            out.append(replace(rec, expected_gain=(low, high), basis="probe",
                               basis_text=f"a probe run of this change on {seeds} seed"
                               f"{'s' if seeds > 1 else ''}: {statistics.fmean(gains):+.1f} "
                               "points" + (f", widened {record.widen:.1f}x by this project's "
                                           "earlier misses" if record.widen > 1 else "")))
        elif past is not None:
            low = past.measured_low if past.measured_low is not None else past.measured - 1
            high = past.measured_high if past.measured_high is not None else past.measured + 1
            out.append(replace(rec, expected_gain=(round(low, 1), round(high, 1)),
                               basis="record",
                               basis_text=f"this project's earlier attempt of these changes "
                               f"measured {past.measured:+.1f} points"))
        else:
            low, high = rec.expected_gain
            out.append(replace(rec, expected_gain=(min(0.0, low), high), basis="prior",
                               basis_text="a share of the headroom: nothing measured"))
    return out
