"""phases.diagnostic.predict and record: expected gains as intervals from evidence, the
project's record of them, and the range test on by default when it fits the budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.predict import Outcome, Record, change_key, interval, predict
from phases.settings import resolve
from tests.diagnostic.histories import evidence, seeds
from tests.diagnostic.test_phase import cli, home  # noqa: F401  (the fixture)
from workflow.project import ProjectConfig


def _rec(changes: dict, gain: tuple[float, float] = (2.0, 8.0)) -> Recommendation:
    return Recommendation(name="raise_lr", title="t", priority="HIGH", changes=changes,
                          finding="lr_too_low", rationale="r", expected_gain=gain, risk="r")


def test_interval_covers_the_seeds_phase4_has_not_run_yet() -> None:
    # gains +10 and +12 on 2 of 5 seeds: s = max(1.41, min(1, 2), 0.5) = 1.41; the 3 seeds
    # still unknown give half = 2 * 1.41 * sqrt(3 / 10) = 1.55
    assert interval([10.0, 12.0], 1.0, 5) == pytest.approx((9.45, 12.55), abs=0.06)
    # a broken baseline's spread (20 points) stands in for the candidate's only up to 2
    assert interval([10.0, 10.0], 20.0, 5) == pytest.approx((7.8, 12.2), abs=0.05)
    # one seed of one: the floor sqrt(1 / 2m) keeps it from shrinking to a point
    assert interval([3.0], 0.0, 1) == pytest.approx((2.3, 3.7), abs=0.05)


def test_a_probed_change_gets_its_measured_interval_an_unmeasured_one_a_prior() -> None:
    ev = evidence(seeds())  # val accuracy ~0.955 on seeds 0, 1, 2
    base = {str(run.seed): ev.best_row(run)["val_accuracy"] for run in ev.usable}
    trials = {"seeds": [0, 1], "baseline": {k: base[k] for k in ("0", "1")},
              "runs": [{"key": change_key({"optimizer.lr": 0.01}),
                        "values": {"0": base["0"] + 0.03, "1": base["1"] + 0.05}}]}
    probed = evidence(seeds(), probes={"trials": trials})
    recs = predict([_rec({"optimizer.lr": 0.01}), _rec({"model.dropout": 0.1})], probed)
    assert recs[0].basis == "probe"
    low, high = recs[0].expected_gain
    assert low < 4.0 < high and high - low < 10  # centred near the +4 measured
    assert "2 seeds" in recs[0].basis_text
    assert recs[1].basis == "prior" and recs[1].expected_gain == (0.0, 8.0)


def test_a_change_measured_not_to_help_is_withheld() -> None:
    # the trial of the lr the finding offers scored 10 points below the baseline: the plan
    # leaves it out and says why, whatever the finding's severity
    from phases.diagnostic.recommend import plan
    from phases.diagnostic.rules import find_all
    from tests.diagnostic.histories import clean_config
    from tests.diagnostic.rules.test_optimizer import SLOW

    config = clean_config(**{"optimizer.name": "adamw", "optimizer.lr": 1e-4})
    ev = evidence(seeds(**SLOW), config=config)
    first = plan(find_all(ev), ev)
    raise_lr = next(r for r in first.recommendations if r.name == "raise_lr")
    score = ev.target_values()[0]
    trials = {"seeds": [0, 1], "baseline": {},
              "runs": [{"key": change_key(raise_lr.changes),
                        "values": {"0": score - 0.1, "1": score - 0.1}}]}
    again = evidence(seeds(**SLOW), config=config, probes={"trials": trials})
    second = plan(find_all(again), again)
    assert "raise_lr" not in {r.name for r in second.recommendations}
    assert any(w.startswith("raise_lr: measured not to help") for w in second.withheld)


def test_the_record_supplies_gains_and_widens_after_misses() -> None:
    key = change_key({"optimizer.lr": 0.01})
    record = Record([Outcome(key, 1.0, 3.0, 9.0, "probe", 7.0, 11.0),
                     Outcome("other", 1.0, 3.0, 2.5, "probe")])
    assert [o.held for o in record.outcomes] == [False, True]
    assert record.widen == pytest.approx(7.0)  # the worst miss: 7 half-widths
    rec = predict([_rec({"optimizer.lr": 0.01})], evidence(seeds()), record)[0]
    assert rec.basis == "record" and rec.expected_gain == (7.0, 11.0)
    assert Record.from_dict(json.loads(json.dumps(record.to_dict()))).outcomes == record.outcomes


def test_the_range_test_runs_by_default_when_it_fits_the_budget(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("name: b\n")
    project = ProjectConfig(name="p", baseline=tmp_path / "b.yaml")
    assert project.probe_steps == 1000 and "lr" in resolve(project).probes
    off = project.model_copy(update={"probe_steps": 0})
    assert "lr" not in resolve(off).probes
    assert resolve(project, probes=["batch"]).probes == ("batch",)  # a flag names exactly


def test_a_user_trainer_without_a_range_test_is_told_it_does_not_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phases.diagnostic.probes import run_probes
    from workflow.trainer.config import TrainConfig

    (tmp_path / "mytrainer12.py").write_text(
        "def fit(config, seed, out_dir, *, report=None, should_stop=None):\n"
        "    raise RuntimeError('not called')\n"
        "def evaluate(run_dir, split):\n    raise RuntimeError('not called')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run_probes(TrainConfig(), ["lr"], trainer="mytrainer12:fit")
    assert "lr_range" not in result
    assert "offers no lr range test" in result["not_applied"]["lr"]


def test_diagnose_with_trials_measures_the_leading_changes_and_keeps_the_record(
    home: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    # the trial runs train the leading changes on two seeds through the project's trainer;
    # their recommendations carry a measured interval, and predictions.json keeps them
    project = home / "proj" / "project.yaml"
    project.write_text(project.read_text() + "probes: [trials]\nprobe_steps: 4000\n")
    assert cli(capsys, "init", "demo", "--config", "proj/project.yaml")[0] == 0
    assert cli(capsys, "baseline", "demo")[0] == 0
    code, out, err = cli(capsys, "diagnose", "demo")
    assert code == 0, err
    phase3 = home / "runs" / "demo" / "phase3"
    findings = json.loads((phase3 / "findings.json").read_text())
    bases = [r["basis"] for r in findings["plan"]["recommendations"]]
    assert "probe" in bases, bases
    assert (phase3 / "trials" / "1" / "seed-0").is_dir()
    ledger = json.loads((phase3 / "predictions.json").read_text())
    assert ledger["rounds"][-1]["first_attempt"]["key"]
    report = (phase3 / "diagnostic_report.md").read_text()
    assert "trial runs" in report and "| basis |" in report
