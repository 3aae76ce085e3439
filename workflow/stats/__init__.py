"""Is a candidate really better than the baseline, or could seed noise explain it?

Phase 4 compares two arms of per-seed results (the same seeds in both arms). The
arms are still treated as independent samples, as the design says: a shared seed
does not make two different configs' runs a matched pair.

An improvement is significant when both hold:

- a one-sided Welch t-test in the improvement direction gives p < alpha (Holm-adjusted
  when several candidates face one baseline), and
- the lower bound of the bootstrap 95% interval of the mean difference lies above the
  minimum effect.

Hedges' g, the probability of improvement (Mann-Whitney U / n1 n2) and the naive
`mean - 2 std > baseline` rule are reported beside the verdict; they never decide it.
For two models' predictions on one test set there is `mcnemar`.

Every difference is oriented so that a positive value is an improvement: for a metric
where lower is better (a loss) the sign is flipped.

scipy is imported inside the functions: it takes most of a second to import, and
`phasegate status` should not pay for it.
"""

from workflow.stats._common import CONFIDENCE_LEVEL, MIN_SEEDS
from workflow.stats._compare import Comparison, compare
from workflow.stats._holm import compare_many, holm
from workflow.stats._mcnemar import McNemarResult, mcnemar
from workflow.stats._summary import ArmSummary, summarize

__all__ = [
    "MIN_SEEDS",
    "CONFIDENCE_LEVEL",
    "ArmSummary",
    "Comparison",
    "McNemarResult",
    "summarize",
    "compare",
    "compare_many",
    "holm",
    "mcnemar",
]
