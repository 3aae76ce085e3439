"""phases.diagnostic.rules._registry: find_all over every rule, and the registry's cross-check."""

from __future__ import annotations

import math

from phases.diagnostic.rules import SEVERITY_RANK, find_all
from tests.diagnostic.histories import evidence, seeds


def test_clean_history_has_no_finding() -> None:
    # a healthy run on a config without gaps: no check fires
    assert find_all(evidence(seeds())) == []


def test_findings_sort_by_severity() -> None:
    # high before medium before low, whatever order the checks ran in
    runs = seeds(data_wait_fraction=lambda e: 0.45,
                 val_balanced_accuracy=lambda e: 0.955 - 0.4 * math.exp(-e / 2.5) - 0.12,
                 val_accuracy=lambda e: 0.95 if e == 4 else 0.94)
    severities = [f.severity for f in find_all(evidence(runs))]
    assert severities == sorted(severities, key=SEVERITY_RANK.__getitem__)
