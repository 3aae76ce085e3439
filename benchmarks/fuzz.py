"""The fuzzer at scale: issue 17's required cases and 1,000+ seeded random ones.

Each case is a hostile or broken input (a training config, a project, a
checklist, a template, a search space) and the command that reads it; see
tests/fuzz/cases.py. Prints the outcomes by kind and by exit code, then every
case with a problem (a traceback, a hang, an exit code the command does not
document, more than one line of error, something left behind). Exits 1 when
any case has a problem.

    python benchmarks/fuzz.py [--cases 1200] [--seed 1] [--timeout 60]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fuzz.cases import random_cases, required_cases  # noqa: E402
from tests.fuzz.harness import problems, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1200, help="random cases (default 1200)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the generator (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    args = parser.parse_args()

    cases = required_cases() + list(random_cases(args.seed, args.cases))
    by_kind: collections.Counter[tuple[str, str]] = collections.Counter()
    by_code: collections.Counter[str] = collections.Counter()
    failed: list[str] = []
    started = time.perf_counter()
    for case in cases:
        with tempfile.TemporaryDirectory() as folder:
            outcome = run_case(case, Path(folder), timeout=args.timeout)
        by_kind[(case.kind, outcome.kind)] += 1
        by_code["none (traceback or hang)" if outcome.code is None else
                f"exit {outcome.code}"] += 1
        found = problems(case, outcome)
        if found:
            failed.append(f"  {case.name}: {'; '.join(found)}")
    wall = time.perf_counter() - started

    print(f"{len(cases)} cases ({len(cases) - args.cases} required, {args.cases} random, "
          f"seed {args.seed}) in {wall:.0f} s")
    print("\nby kind and outcome:")
    for kind in sorted({k for k, _ in by_kind}):
        row = ", ".join(f"{outcome} {n}" for (k, outcome), n in sorted(by_kind.items())
                        if k == kind)
        print(f"  {kind:10s} {row}")
    print("\nby exit code:")
    for code, n in sorted(by_code.items()):
        print(f"  {code:26s} {n}")
    print(f"\ncases with a problem: {len(failed)}")
    for line in failed:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
