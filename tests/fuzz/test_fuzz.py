"""The fuzzer in the suite: every input issue 17 listed, and a bounded, seeded batch of more.

Each case must end with an exit code its command documents (2 for bad input, in
one line), never a traceback or a hang (each runs under a timer, or in a child
process with a timeout where it could block), and leave nothing behind: no
half-made run folder or project, no temporary file, and no sign that a command
named by the input ran. `python benchmarks/fuzz.py` runs 1,000+ cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.cases import random_cases, required_cases
from tests.fuzz.harness import Case, problems, run_case

SEED = 17
RANDOM_CASES = 48  # bounded: the suite stays fast; the benchmark runs many more
TIMEOUT_S = 30.0


def _check(case: Case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path, timeout=TIMEOUT_S)
    found = problems(case, outcome)
    assert not found, f"{case.name}: {found}\n{outcome.error[-2000:]}"


# rule: each input the issue found crashing, hanging or accepted although meaningless now
# gives its documented exit code in one line, and runs nothing it names
@pytest.mark.parametrize("case", required_cases(), ids=lambda case: case.name)
def test_required_case(case: Case, tmp_path: Path) -> None:
    _check(case, tmp_path)


# rule: a seeded batch of mutated configs, projects, checklists, templates and spaces ends
# with a documented exit code, no traceback, no hang, nothing left behind
@pytest.mark.parametrize("case", list(random_cases(SEED, RANDOM_CASES)),
                         ids=lambda case: case.name)
def test_random_case(case: Case, tmp_path: Path) -> None:
    _check(case, tmp_path)


def test_the_required_cases_cover_every_kind_the_issue_names() -> None:
    kinds = {case.kind for case in required_cases()}
    assert kinds == {"train", "project", "checklist", "space", "template"}
    assert len({case.name for case in required_cases()}) == len(required_cases())
