"""workflow.stats._summary: an arm's summary against the statistics module."""

from __future__ import annotations

import statistics

import pytest

from tests.stats.test_compare import BASELINE
from workflow.stats import summarize


# rule: ArmSummary holds n, mean, sample std (ddof=1), min, max and the values
def test_summarize_matches_the_statistics_module() -> None:
    s = summarize(BASELINE)
    assert s.n == 5
    assert s.mean == pytest.approx(statistics.mean(BASELINE))
    assert s.std == pytest.approx(statistics.stdev(BASELINE))
    assert (s.min, s.max) == (0.89, 0.92)
    assert s.values == tuple(BASELINE)
