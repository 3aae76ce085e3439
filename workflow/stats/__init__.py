"""Is a candidate really better than the reference, or could seed noise explain it?

The rule (one, used by Phase 3's seed advice, Phase 4's decisions, the sweep and every
report; `Rule` holds it):

- **Test.** A one-sided t-test of "the candidate's mean is better" on the per-seed
  values of the target metric. When both arms ran the same seeds (every Phase 4
  comparison: the project's seeds), it is the paired t-test on the per-seed
  differences: a seed fixes the initialization and the data order, so same-seed runs
  of two configs move together, and pairing removes that shared noise. Otherwise
  (different seeds) it is Welch's test. The choice follows from the design, never
  from the data, so the error rate stays alpha; the other test is reported beside.
- **Error across Phase 4.** The project's alpha is family-wise over Phase 4's attempts:
  each attempt is tested at alpha / iteration_limit (Bonferroni), so the chance that any
  attempt in a Phase 4 with no real gain is called significant is at most alpha, however
  the attempts depend on each other. A sweep attempt is one comparison: its winner is
  chosen on fresh seeds and tested on the project's seeds (see the sweep's rerun module).
- **Minimum effect.** `min_effect`, "the smallest improvement worth claiming", sizes the
  experiment rather than raising the bar: Phase 3 recommends the seeds that give the test
  the project's power (default 0.8) at a true gain of min_effect. A significant gain is
  set aside as too small only when it is significantly smaller than min_effect (the
  one-sided test of "gain >= min_effect" rejects at the same level), and even then it is
  kept when it meets the goal.
- **Interval.** The deciding test's t interval of the mean difference (95%): it covers
  at its level from 3 seeds up, where a percentile bootstrap of 3-5 seeds covers 80-88%.
- **Power.** Seed advice assumes no same-seed correlation (the paired test's n - 1
  degrees of freedom, the arms' own spread): a lower bound on both tests' power, so the
  advised seeds are enough whichever test decides.
- **Beside, never deciding.** Welch's test when the paired test decides, the same-seed
  correlation, Hedges' g, the probability of improvement (Mann-Whitney U / n1 n2) and
  the naive `mean - 2 std > baseline` rule.

References: Student (1908) for the paired test; Welch (1947) for the unpaired one;
Bonferroni / Holm (1979) for the family-wise error; Cohen (1988) for the power of the
t-test (noncentral t); Hedges (1981) for g; Bouthillier et al. (2021) for pairing the
sources of variance when comparing learning pipelines. For two models' predictions on
one test set there is `mcnemar`.
`benchmarks/calibration.py` measures the false-positive rate, power, coverage,
family-wise error and the sweep winner's bias of this rule by simulation.

Every difference is oriented so that a positive value is an improvement: for a metric
where lower is better (a loss) the sign is flipped.

scipy is imported inside the functions: it takes most of a second to import, and
`phasegate status` should not pay for it.
"""

from workflow.stats._common import CONFIDENCE_LEVEL, MIN_SEEDS
from workflow.stats._compare import Comparison, TTest, compare
from workflow.stats._holm import compare_many, holm
from workflow.stats._mcnemar import McNemarResult, mcnemar
from workflow.stats._rule import MAX_SEEDS, Rule
from workflow.stats._summary import ArmSummary, summarize

__all__ = [
    "MIN_SEEDS",
    "MAX_SEEDS",
    "TTest",
    "Rule",
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
