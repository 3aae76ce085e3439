"""The project's record of Phase 3's predictions, and whether each held once Phase 4 measured it.

Every diagnosis appends its predictions to `phase3/predictions.json` (never
rewritten, only extended): each recommendation's interval and basis, and the
interval of the set Phase 4's first targeted attempt applies (its HIGH and
MEDIUM changes together: probed as a set when trials ran, else from the parts:
the largest low to the sum of the highs). `load_record` pairs them with the
Phase 4 attempts on the baseline that applied exactly those changes (`phase4`
facts), so the report says afterwards whether each held, and `predict` learns
from the misses (`Record.widen`) and from the gains measured (`Record.measured`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phases.diagnostic.diagnosis import Diagnosis
from phases.diagnostic.predict import Outcome, Record, change_key, trial_gains
from workflow.io import atomic_write_json, read_json
from workflow.store import Store, now

__all__ = ["PREDICTIONS_FILE", "first_attempt", "load_record", "save_predictions"]

PREDICTIONS_FILE = "predictions.json"


def first_attempt(diagnosis: Diagnosis) -> dict[str, Any] | None:
    """The prediction for the set Phase 4's targeted attempt applies first (None: no change)."""
    recs = diagnosis.plan.recommendations
    urgent = [r for r in recs if r.priority in ("HIGH", "MEDIUM")] or list(recs[:3])
    changes: dict[str, Any] = {}
    for rec in urgent:
        changes.update(rec.changes)
    if not changes:
        return None
    key = change_key(changes)
    single = next((r for r in urgent if change_key(r.changes) == key), None)
    if single is not None:
        low, high, basis = *single.expected_gain, single.basis
    elif trial_gains(diagnosis.evidence, key):
        from phases.diagnostic.predict import interval

        ev = diagnosis.evidence
        gains = trial_gains(ev, key) or []
        values = ev.target_values()
        from phases.diagnostic.evidence import std

        spread = (ev.target.points(std(values), sum(values) / len(values))
                  if len(values) >= 2 else 0.0)  # the baseline's: interval caps it
        low, high = interval(gains, spread, max(1, len(ev.runs)))
        basis = "probe"
    else:
        low = max(r.expected_gain[0] for r in urgent)
        high = min(diagnosis.plan.headroom, sum(r.expected_gain[1] for r in urgent))
        basis = "prior"
    return {"ids": [r.id for r in urgent], "key": key, "changes": changes,
            "low": round(low, 1), "high": round(high, 1), "basis": basis}


def save_predictions(folder: Path, diagnosis: Diagnosis) -> dict[str, Any]:
    """Append this diagnosis's predictions to `folder/predictions.json`; the new entry."""
    path = folder / PREDICTIONS_FILE
    ledger = read_json(path) if path.is_file() else {"rounds": []}
    entry = {
        "at": now(),
        "metric": diagnosis.evidence.metric,
        "unit": diagnosis.evidence.target.unit,
        "recommendations": [
            {"id": r.id, "name": r.name, "key": change_key(r.changes), "changes": r.changes,
             "low": r.expected_gain[0], "high": r.expected_gain[1], "basis": r.basis}
            for r in diagnosis.plan.recommendations if r.changes
        ],
        "first_attempt": first_attempt(diagnosis),
    }
    ledger.setdefault("rounds", []).append(entry)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, ledger)
    return entry


def _predictions(folder: Path) -> list[dict[str, Any]]:
    path = folder / PREDICTIONS_FILE
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    for entry in (read_json(path) or {}).get("rounds", []):
        out += list(entry.get("recommendations") or [])
        if entry.get("first_attempt"):
            out.append(entry["first_attempt"])
    return out


def load_record(store: Store, folder: Path) -> Record:
    """The predictions in `folder` paired with the Phase 4 attempts that measured them."""
    from workflow.facts import read_facts

    predictions = _predictions(folder)
    if not predictions:
        return Record()
    metric = store.project.target.measure
    outcomes: list[Outcome] = []
    for attempt in read_facts(store).phase4.attempts:
        if attempt.base != "baseline" or attempt.evidence.gain_points is None:
            continue
        changes: dict[str, Any] = {}
        for rec in attempt.recommendations:
            changes.update(rec.changes)
        key = change_key(changes)
        match = next((p for p in reversed(predictions) if p.get("key") == key), None)
        if match is None:
            continue
        comparison = attempt.comparison
        reference = comparison.baseline.mean if comparison and comparison.baseline else None

        def pts(value: float | None, reference: float | None = reference) -> float | None:
            return None if value is None else metric.points(value, reference)

        outcomes.append(Outcome(
            key=key, low=float(match["low"]), high=float(match["high"]),
            measured=float(attempt.evidence.gain_points), basis=str(match.get("basis")),
            measured_low=pts(comparison.ci_low) if comparison else None,
            measured_high=pts(comparison.ci_high) if comparison else None,
        ))
    return Record(outcomes)


def outcome_rows(record: Record) -> Sequence[dict[str, Any]]:
    """The report's rows: each earlier prediction, what Phase 4 measured, whether it held."""
    return [{"interval": f"{o.low:+.1f} to {o.high:+.1f}", "measured": f"{o.measured:+.1f}",
             "basis": o.basis, "held": "yes" if o.held else "no"} for o in record.outcomes]
