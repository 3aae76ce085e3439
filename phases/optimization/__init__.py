"""Phase 4, optimization: targeted, sweep and iterative strategies, and the decision.

- `optimize` (phase.py): Phase 4 with the store, from `diagnosed` to a decision.
- `decide` (decision.py): the A/B/C/D/budget rules, pure.
- targeted.py: selecting and applying recommendations, training and comparing arms.
- iterative.py: re-diagnosing an attempt's runs to plan the next one.
- results.py: optimization_results.md and its JSON twin.
- sweep/: the sweep strategy (`phasegate optimize --strategy sweep`).

Nothing here imports torch at import time.
"""

from phases.optimization.decision import Budget, Decision, DecisionCode, Evidence, decide
from phases.optimization.phase import STRATEGIES, Outcome, Progress, optimize, resolve_strategy
from phases.optimization.results import write_results
from phases.optimization.targeted import Plan
from workflow.arms import Arm

__all__ = [
    "STRATEGIES",
    "Arm",
    "Budget",
    "Decision",
    "DecisionCode",
    "Evidence",
    "Outcome",
    "Plan",
    "Progress",
    "decide",
    "optimize",
    "resolve_strategy",
    "write_results",
]
