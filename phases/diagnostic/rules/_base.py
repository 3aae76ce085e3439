"""A finding and the rule that makes it: the one place a Phase 3 finding is written.

A `Rule` has an id and a title, one check over the `Evidence` (it returns the
finding, or None), the answers it offers (config patches, by the names of
`phases.diagnostic.answers.ANSWERS`), and what it explains: a finding is a
symptom, not a root cause, when a finding of one of its `explained_by` rules
is found too (an underfit caused by a diverging learning rate). The registry
(`_registry.py`) checks every rule against the others when it is built.

Accuracies in evidence are points (percent); a "majority" of seeds is more than
half of the usable ones.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from phases.diagnostic.evidence import Evidence, SeedRun
from workflow.errors import ExtensionError

if TYPE_CHECKING:
    from phases.diagnostic.answers import Context, Priority, Recommendation

__all__ = ["SEVERITY_RANK", "Finding", "Rule", "Severity"]

Severity = Literal["high", "medium", "low"]
SEVERITY_RANK: dict[str, int] = {"high": 0, "medium": 1, "low": 2}
LATE_WINDOW = 0.25  # "the last quarter of the epochs", as several rules read it


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


class Rule(ABC):
    """One finding: its id, its check, the answers it offers, and what explains it.

    Subclass it, set the class attributes, implement `check`, and `answer` when the
    finding has answers; then add an instance to `RULES` in `_registry.py`.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    # False: the finding only ever contributes (a config gap, the seeds' noise)
    root_cause: ClassVar[bool] = True
    # the finding is a symptom of the first of these rules that is found too
    explained_by: ClassVar[tuple[str, ...]] = ()
    # as the single root cause it may hide others: fix it, then diagnose again (iterative)
    hides_others: ClassVar[bool] = False
    # the names (ANSWERS) of every recommendation `answer` may make
    answers: ClassVar[tuple[str, ...]] = ()
    # the config settings (rows of config_analysis) this finding passes a verdict on: when
    # it is found, the config table shows its verdict there (one verdict per setting)
    settings: ClassVar[tuple[str, ...]] = ()
    # what the check reads that not every task records: "accuracy" (a classifier's
    # accuracy columns). Without it the finding is "not applicable", said so in the report
    needs: ClassVar[tuple[str, ...]] = ()
    # the phasegate settings the check reads ("a|b": either will do). A trainer's own config
    # holds those its tunable keys mean; without them the finding is "not applicable"
    reads: ClassVar[tuple[str, ...]] = ()

    def not_applicable(self, ev: Evidence) -> str | None:
        """Why this finding cannot be judged on `ev` (None: it can)."""
        absent = [r for r in self.reads if not any(ev.declares(s) for s in r.split("|"))]
        if absent:
            return (f"reads {' and '.join(a.replace('|', ' or ') for a in absent)}, which no "
                    f"key of the trainer's own config means (a tunable key's `means`)")
        if "accuracy" in self.needs and ev.usable and not any(
            run.has("train_accuracy") and run.has("val_accuracy") for run in ev.usable
        ):
            return (f"needs train and val accuracy, which a {ev.metric} "
                    f"({ev.target.direction}) history does not record")
        return None

    @abstractmethod
    def check(self, ev: Evidence) -> Finding | None:
        """The finding this rule makes on `ev`, or None."""

    def answer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        """The candidate changes against `finding` (`primary`: its severity as a priority)."""
        return []

    def offer(self, finding: Finding, ctx: Context, primary: Priority) -> list[Recommendation]:
        """`answer`, held to the answers the rule names (one it does not name is a bug)."""
        recs = self.answer(finding, ctx, primary)
        unnamed = sorted({r.name for r in recs} - set(self.answers))
        if unnamed:
            raise ExtensionError(
                f"rule {self.id!r} offered {', '.join(unnamed)}, which it does not name in "
                f"its answers {list(self.answers)}"
            )
        return recs

    def found(
        self, severity: Severity, evidence: dict[str, Any], text: str, seeds: Iterable[int] = ()
    ) -> Finding:
        """This rule's finding, its text made one sentence."""
        return Finding(self.id, self.title, severity, evidence, sentence(text),
                       root_cause=self.root_cause, seeds=list(seeds))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={getattr(self, 'id', None)!r})"


# ---- helpers the checks share -------------------------------------------------------------


def r(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def pts(value: float) -> float:
    """A fraction as points (percent), to two decimals."""
    return r(100.0 * value, 2)


def majority(count: int, total: int) -> bool:
    return total > 0 and 2 * count > total


def having(runs: Sequence[SeedRun], *columns: str) -> list[SeedRun]:
    """The runs whose every epoch has every one of `columns`."""
    return [run for run in runs if all(run.has(c) for c in columns)]


def window(n: int) -> int:
    """The epochs of the last quarter of `n` (two at least)."""
    return max(2, math.ceil(n * LATE_WINDOW))


def sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text[-1:] == "." else ".")
