"""Phase 4, optimization: a loop over a `Strategy`, the decision, the records and the report.

- `optimize` (phase.py): Phase 4 with the store, from `diagnosed` to a decision.
- strategies/: the `Strategy` base (plan an attempt, run it) and the built-in
  targeted, iterative and sweep strategies; a user's is `module:Class`.
- context.py: what an attempt sees: the project, its arms, the attempts so far.
- `decide` (decision.py): the A/B/C/D/budget rules, pure.
- recording.py: the attempt record and the facts (workflow.facts.Phase4Facts).
- artifacts.py: the kept config, the checkpoints; results.py: optimization_results.md.
- targeted.py: selecting and applying recommendations, the plan of an attempt.
- iterative.py: re-diagnosing an attempt's runs to plan the next one.
- sweep/: the search a sweep attempt runs.

Nothing here imports torch at import time.
"""

from phases.optimization.decision import (
    AttemptBudget,
    AttemptEvidence,
    Decision,
    DecisionCode,
    decide,
)
from phases.optimization.phase import STRATEGIES, Outcome, optimize, resolve_strategy
from phases.optimization.results import write_optimization_results
from phases.optimization.strategies import AttemptResult, Strategy
from phases.optimization.targeted import AttemptPlan
from workflow.arms import Arm

__all__ = [
    "STRATEGIES",
    "Arm",
    "AttemptResult",
    "AttemptBudget",
    "Decision",
    "DecisionCode",
    "AttemptEvidence",
    "Outcome",
    "AttemptPlan",
    "Strategy",
    "decide",
    "optimize",
    "resolve_strategy",
    "write_optimization_results",
]
