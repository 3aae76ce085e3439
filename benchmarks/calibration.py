"""Is phasegate's significance rule calibrated? A simulation through the real functions.

Every figure is a Monte Carlo estimate over `--draws` simulated experiments, printed
with its Monte Carlo error (one standard error). Per-seed values are drawn from normal
distributions with a seed sd of 1 point of accuracy (0.01) unless said otherwise, and
the project's defaults: alpha 0.05, min_effect 1 point, power 0.8, iteration limit 3.

What it calls, never a copy of it:
- `workflow.arms.rule_for` (the project's rule) and `Rule.compare` (the verdict Phase 4
  records; `compare_arms` calls it with the same arguments);
- `Rule.seeds_needed`, which Phase 3's `seed_advice` calls for its recommendation;
- `phases.optimization.decision.decide` with `AttemptEvidence`, for Phase 4's decisions;
- `phases.optimization.sweep.rerun.choose`, the sweep's choice among its re-runs.

Targets (issue 11), and what makes this script say FAIL:
- A/A false-positive rate of one comparison at most alpha (within 2 MC errors) at 3,
  5 and 10 seeds;
- power at least 0.8 at a true gain of min_effect with the recommended seeds;
- Welch interval coverage at least 0.93 at 3, 5, 10 and 30 seeds;
- family-wise error of a three-attempt Phase 4 with no real gain at most alpha;
- the sweep winner's bias under the null under 0.1 point.

    python benchmarks/calibration.py [--draws 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from phases.optimization.decision import AttemptBudget, AttemptEvidence, DecisionCode, decide
from phases.optimization.sweep.records import Candidate
from phases.optimization.sweep.rerun import choose
from workflow.arms import rule_for
from workflow.metric import Metric
from workflow.project import ProjectConfig
from workflow.stats import Rule, summarize

ACCURACY = Metric.named("val_accuracy")
SD = 0.01  # one point of accuracy
MEAN = 0.90


def _arms(rng: np.random.Generator, n: int, gain: float = 0.0, rho: float = 0.0,
          cand_sd: float = SD) -> tuple[np.ndarray, np.ndarray]:
    """Two arms on the same n seeds; same-seed correlation rho (a shared seed effect)."""
    shared = rng.normal(0.0, 1.0, n)
    base = MEAN + SD * (math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.normal(0.0, 1.0, n))
    cand = MEAN + gain + cand_sd * (math.sqrt(rho) * shared
                                    + math.sqrt(1 - rho) * rng.normal(0.0, 1.0, n))
    return base, cand


def _project(**changes: Any) -> ProjectConfig:
    return ProjectConfig(name="calibration", baseline=Path("baseline.yaml"), **changes)


def _prop(hits: int, n: int) -> tuple[float, float]:
    p = hits / n
    return p, math.sqrt(max(p * (1 - p), 1e-12) / n)


def _line(name: str, value: float, error: float, target: str, ok: bool) -> bool:
    print(f"  {name:<58} {value:7.4f} ± {error:.4f}   target {target:<10} "
          f"{'ok' if ok else 'FAIL'}")
    return ok


def false_positives(rule: Rule, rng: np.random.Generator, draws: int) -> bool:
    print(f"A/A false-positive rate of one comparison (tested at {rule.test_alpha:.4f}; "
          f"alpha {rule.alpha} over {rule.family} attempts)")
    ok = True
    for paired, rho in ((True, 0.0), (True, 0.8), (False, 0.0)):
        for n in (3, 5, 10):
            hits = sum(rule.compare(*_arms(rng, n, rho=rho), paired=paired).significant
                       for _ in range(draws))
            p, se = _prop(hits, draws)
            name = f"{'paired' if paired else 'Welch '}, r {rho:.1f}, {n} seeds"
            ok &= _line(name, p, se, f"<= {rule.alpha}", p <= rule.alpha + 2 * se)
    # and with the whole alpha on one comparison (a project with iteration_limit 1)
    single = Rule(alpha=rule.alpha, min_effect=rule.min_effect, power=rule.power, family=1)
    hits = sum(single.compare(*_arms(rng, 5), paired=True).significant for _ in range(draws))
    p, se = _prop(hits, draws)
    ok &= _line("paired, 5 seeds, iteration_limit 1 (tested at alpha)", p, se,
                f"<= {rule.alpha}", p <= rule.alpha + 2 * se)
    return ok


def power(rule: Rule, rng: np.random.Generator, draws: int) -> bool:
    print(f"Power at a true gain of min_effect ({100 * rule.min_effect:g} point), seed sd "
          f"{100 * SD:g} point, with the recommended seeds")
    n = rule.seeds_needed(SD)
    assert n is not None
    ok = True
    for paired, rho in ((True, 0.0), (False, 0.0), (True, 0.5)):
        hits = sum(rule.compare(*_arms(rng, n, rule.min_effect, rho), paired=paired).significant
                   for _ in range(draws))
        p, se = _prop(hits, draws)
        name = f"{n} seeds (Rule.seeds_needed), {'paired' if paired else 'Welch'}, r {rho:.1f}"
        ok &= _line(name, p, se, f">= {rule.power}", p >= rule.power - 2 * se)
    # as a project meets it: Phase 3 estimates the sd from 5 baseline seeds, then advises
    hits, advised = 0, []
    for _ in range(draws):
        sd_hat = float(np.std(rng.normal(MEAN, SD, 5), ddof=1))
        k = rule.seeds_needed(sd_hat) or 500
        advised.append(k)
        hits += rule.compare(*_arms(rng, k, rule.min_effect), paired=True).significant
    p, se = _prop(hits, draws)
    name = f"advice from 5 estimated seeds (median {int(np.median(advised))}), paired, r 0"
    print(f"  {name:<58} {p:7.4f} ± {se:.4f}   (reported: the sd estimate is noisy)")
    for gain, rho in ((0.5, 0.0), (2.0, 0.0), (3.0, 0.0), (1.0, 0.8)):
        hits = sum(rule.compare(*_arms(rng, 5, gain * SD, rho), paired=True).significant
                   for _ in range(draws // 2))
        p, se = _prop(hits, draws // 2)
        print(f"  {f'5 seeds, paired, r {rho:.1f}, true gain {gain:g} point(s)':<58} "
              f"{p:7.4f} ± {se:.4f}   (reported)")
    return ok


def coverage(rule: Rule, rng: np.random.Generator, draws: int) -> bool:
    print("Coverage of the 95% interval (true gain 1 point; candidate sd twice the "
          "baseline's)")
    ok = True
    for paired in (True, False):
        for n in (3, 5, 10, 30):
            hits = 0
            for _ in range(draws):
                c = rule.compare(*_arms(rng, n, 0.01, cand_sd=2 * SD), paired=paired)
                hits += c.ci_low <= 0.01 <= c.ci_high
            p, se = _prop(hits, draws)
            name = f"{'paired' if paired else 'Welch '}, {n} seeds"
            ok &= _line(name, p, se, ">= 0.93", p >= 0.93 - 2 * se)
    return ok


def _evidence(k: int, rule: Rule, reference: np.ndarray, candidate: np.ndarray,
              paired: bool) -> AttemptEvidence:
    c = rule.compare(reference, candidate, paired=paired)
    return AttemptEvidence(k, c.significant,
                           ACCURACY.points(c.mean_diff, c.baseline.mean), c.reason,
                           c.below_min_effect)


def family_wise(rule: Rule, rng: np.random.Generator, draws: int, n: int = 5) -> bool:
    print(f"Family-wise error: a Phase 4 of {rule.family} attempts with no real gain "
          f"({n} seeds; a kept attempt is a false claim)")
    hits = 0
    ceiling = ACCURACY.points(rule.min_effect, MEAN)
    for _ in range(draws):
        reference = rng.normal(MEAN, SD, n)
        earlier: list[AttemptEvidence] = []
        claimed = False
        for k in range(1, rule.family + 1):
            candidate = rng.normal(MEAN, SD, n)  # the same seeds: paired, as Phase 4 is
            ev = _evidence(k, rule, reference, candidate, paired=True)
            decision = decide(ev, earlier=earlier, target_met=False, target_text="-",
                              budget=AttemptBudget(k, rule.family), ceiling=ceiling)
            if decision.code is DecisionCode.A or ev.improves:
                claimed = True
                reference = candidate
            earlier.append(ev)
            if decision.code.is_final():  # after C, Phase 3 plans the next attempt
                break
        hits += claimed
    p, se = _prop(hits, draws)
    return _line(f"{rule.family} attempts", p, se, f"<= {rule.alpha}",
                 p <= rule.alpha + 2 * se)


def _candidate(rank: int, values: np.ndarray) -> Candidate:
    return Candidate(rank=rank, trial=rank, params={}, config=None,  # type: ignore[arg-type]
                     sweep_value=0.0, seeds=list(range(len(values))),
                     values=list(values), summary=summarize(values), comparison=None,
                     rerun_dir=Path("."))


def winner_bias(rule: Rule, rng: np.random.Generator, draws: int, k: int = 3,
                n: int = 5) -> bool:
    print(f"Sweep winner's gain under the null: top {k} re-run on {n} fresh seeds, every "
          "config as good as the baseline")
    selected, measured = [], []
    for _ in range(draws):
        baseline = rng.normal(MEAN, SD, n)
        reruns = [rng.normal(MEAN, SD, n) for _ in range(k)]
        chosen = choose([_candidate(i, v) for i, v in enumerate(reruns)], ACCURACY)
        assert chosen is not None and chosen.summary is not None
        selected.append(ACCURACY.points(chosen.summary.mean - float(np.mean(baseline))))
        # what the sweep strategy decides on: the chosen config on the project's seeds
        project_seeds = rng.normal(MEAN, SD, n)
        c = rule.compare(baseline, project_seeds, paired=True)
        measured.append(ACCURACY.points(c.mean_diff))
    sel, mea = np.array(selected), np.array(measured)
    print(f"  {'gain read from the choosing re-runs (before issue 11)':<58} "
          f"{sel.mean():+7.4f} ± {sel.std(ddof=1) / math.sqrt(draws):.4f}   (reported)")
    return _line("gain measured on the project's seeds (points)", float(mea.mean()),
                 float(mea.std(ddof=1) / math.sqrt(draws)), "|bias|<0.1",
                 abs(mea.mean()) < 0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rule = rule_for(_project())
    print(f"rule: alpha {rule.alpha}, min_effect {rule.min_effect}, power {rule.power}, "
          f"family {rule.family} (test alpha {rule.test_alpha:.4f}); {args.draws} draws, "
          f"seed {args.seed}\n")
    started = time.perf_counter()
    results = [false_positives(rule, rng, args.draws), power(rule, rng, args.draws),
               coverage(rule, rng, args.draws), family_wise(rule, rng, args.draws),
               winner_bias(rule, rng, args.draws)]
    print(f"\n{sum(results)} of {len(results)} targets met in "
          f"{time.perf_counter() - started:.0f} s")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
