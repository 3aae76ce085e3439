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
- `phases.optimization.sweep.rerun.run_race` and `choose`, the sweep's race of its top
  trials on fresh seeds and its choice among the re-runs.

Targets (issue 11), and what makes this script say FAIL:
- A/A false-positive rate of one comparison at most alpha (within 2 MC errors) at 3,
  5 and 10 seeds;
- power at least 0.8 at a true gain of min_effect with the recommended seeds;
- Welch interval coverage at least 0.93 at 3, 5, 10 and 30 seeds;
- family-wise error of a three-attempt Phase 4 with no real gain at most alpha;
- the sweep winner's bias under the null under 0.1 point;
- the race of the sweep's re-runs gives up under 0.1 point of true gain, on average,
  against re-running every candidate on every fresh seed (reported beside it: the chance
  of choosing the best candidate and the seeds each spends).

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
from phases.optimization.sweep.rerun import choose, run_race
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


def _choose(rule: Rule, reruns: list[np.ndarray], racing: bool = True
            ) -> tuple[int, np.ndarray, int]:
    """The sweep's choice among `reruns` (the candidates' values on the same fresh seeds),
    raced as `rerun_top` races them (or every candidate on every seed): the chosen index,
    its values on the seeds it trained (the one left in a decided race trains on all), and
    the seeds trained in all."""
    trained = {i: len(v) for i, v in enumerate(reruns)}
    out: dict[str, str] = {}
    if racing:
        def measure(label: str, seeds: list[int]) -> list[float]:
            trained[int(label)] = len(seeds)
            return [float(x) for x in reruns[int(label)][:len(seeds)]]

        out = run_race([str(i) for i in range(len(reruns))], list(range(len(reruns[0]))),
                       measure, ACCURACY, min_effect=rule.min_effect)
    chosen = choose([_candidate(i, v[:trained[i]]) for i, v in enumerate(reruns)
                     if str(i) not in out], ACCURACY)
    assert chosen is not None
    return chosen.rank, np.array(chosen.values), sum(trained.values())


def winner_bias(rule: Rule, rng: np.random.Generator, draws: int, k: int = 3,
                n: int = 5) -> bool:
    print(f"Sweep winner's gain under the null: top {k} raced on {n} fresh seeds, every "
          "config as good as the baseline")
    selected, measured = [], []
    for _ in range(draws):
        baseline = rng.normal(MEAN, SD, n)
        reruns = [rng.normal(MEAN, SD, n) for _ in range(k)]
        _, values, _ = _choose(rule, reruns)
        selected.append(ACCURACY.points(float(np.mean(values)) - float(np.mean(baseline))))
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


def race_cost(rule: Rule, rng: np.random.Generator, draws: int, k: int = 3,
              n: int = 5) -> bool:
    print(f"The sweep's race: top {k} on {n} fresh seeds, raced or all re-run on every "
          f"seed; candidates' true gaps behind the best in seed sds (min_effect "
          f"{rule.min_effect / SD:g} sd)")
    ok = True
    for gaps in ((0.0, 0.0), (0.5, 1.0), (1.0, 2.0), (2.0, 3.0)):
        true = [0.0, *(-g * SD for g in gaps)]
        figures = {}
        for racing in (False, True):
            best, regret, seeds = 0, [], []
            for _ in range(draws):
                reruns = [rng.normal(MEAN + mu, SD, n) for mu in true]
                index, _, spent = _choose(rule, reruns, racing)
                best += index == 0
                regret.append(ACCURACY.points(-true[index]))
                seeds.append(spent)
            figures[racing] = (best / draws, np.array(regret), float(np.mean(seeds)))
        (p_all, r_all, s_all), (p_race, r_race, s_race) = figures[False], figures[True]
        diff = r_race - r_all  # not paired draws: the errors add
        error = math.sqrt(r_race.var(ddof=1) / draws + r_all.var(ddof=1) / draws)
        print(f"  gaps {gaps[0]:g}, {gaps[1]:g}: best chosen {p_all:.3f} -> {p_race:.3f}, "
              f"seeds {s_all:.1f} -> {s_race:.2f}")
        ok &= _line(f"gaps {gaps[0]:g}, {gaps[1]:g} sd: true gain given up by racing "
                    "(points)", float(diff.mean()), error, "< 0.1", diff.mean() < 0.1)
    return ok


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
               winner_bias(rule, rng, args.draws), race_cost(rule, rng, args.draws)]
    print(f"\n{sum(results)} of {len(results)} targets met in "
          f"{time.perf_counter() - started:.0f} s")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
