"""A user trainer's own config (workflow.own_config, issue 13): validated at init, handed to
`fit` as the user's model (or a plain dict), patched on the keys the trainer declares
tunable, through the phasegate setting each `means`, inside their ranges; a sweep's space
built from those ranges. The trainers are tests/own_trainer.py (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from phases.diagnostic.answers import Recommendation
from phases.diagnostic.knobs import honoured
from phases.diagnostic.recommend import on_own_keys
from phases.optimization.sweep import SweepSettings, run_sweep
from phases.optimization.sweep.space import parse_space, space_from_tunables
from phases.optimization.targeted import apply
from tests.own_trainer import RECEIVED, OwnSettings
from workflow.arms import train_arm
from workflow.cli import main
from workflow.errors import ConfigError
from workflow.own_config import OwnConfig, load_config
from workflow.protocol import resolve_trainer_protocol
from workflow.store import RUNS_ENV

OWN = "tests.own_trainer:fit"
MAPPING = "tests.own_trainer:MappingTrainer"


def _own(tmp_path: Path, data: dict[str, object], trainer: str = OWN) -> OwnConfig:
    path = tmp_path / "baseline.yaml"
    path.write_text(yaml.safe_dump(data))
    config = load_config(path, trainer)
    assert isinstance(config, OwnConfig)
    return config


def _rec(changes: dict[str, object], space: dict[str, object] | None = None) -> Recommendation:
    return Recommendation(name="lower_lr", title="Lower the lr", priority="HIGH",
                          changes=dict(changes), finding="lr_too_high", rationale="",
                          expected_gain=(0.0, 1.0), risk="", space=dict(space or {}))


def _diagnosed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, iteration_limit: int
               ) -> tuple[Any, Any]:
    """An own-config project (tests/own_trainer.py:fit) initialized, its baseline trained and
    diagnosed, through the library: the store and the diagnosis."""
    from phases.diagnostic.phase import run_baseline, run_diagnose
    from workflow.store import Store

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHASEGATE_WORKERS", "1")
    (tmp_path / "baseline.yaml").write_text("lr: 0.2\nepochs: 3\nwidth: 8\n")
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "own", "baseline": "baseline.yaml", "trainer": OWN, "seeds": [0, 1, 2],
        "fresh_seeds": [100, 101, 102], "iteration_limit": iteration_limit, "workers": 1,
        "target": {"metric": "val_mse", "direction": "minimize"}}))
    assert main(["init", "own", "--config", "project.yaml", "--runs", "runs"]) == 0
    store = Store.open("own", tmp_path / "runs")
    run_baseline(store, workers=1)
    diagnosis, _ = run_diagnose(store)
    return store, diagnosis


# rule: a trainer's own pydantic model validates the baseline at init: a bad field is one
# line naming the file and the field, exit 2, and nothing is created
def test_a_bad_own_config_is_refused_at_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(RUNS_ENV, raising=False)
    (tmp_path / "baseline.yaml").write_text("lr: 0.01\nepochs: 3\nwidht: 16\n")
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "own", "baseline": "baseline.yaml", "trainer": OWN,
        "target": {"metric": "val_mse", "direction": "minimize"}}))
    code = main(["init", "own", "--config", "project.yaml"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "baseline.yaml: widht: unknown field" in err
    assert not (tmp_path / "runs" / "own").exists()
    # the same file, fixed, is accepted: the user's config, not phasegate's TrainConfig
    (tmp_path / "baseline.yaml").write_text("lr: 0.01\nepochs: 3\nwidth: 16\n")
    assert main(["init", "own", "--config", "project.yaml"]) == 0


# rule: fit receives an instance of the trainer's own model, and the run records the user's
# config, so a rerun finds it finished
def test_fit_receives_the_users_model(tmp_path: Path) -> None:
    config = _own(tmp_path, {"lr": 0.02, "epochs": 3})
    assert resolve_trainer_protocol(OWN).config_model is OwnSettings
    assert isinstance(config.value(), OwnSettings) and config.training.epochs == 3
    arm = train_arm("baseline", config, [0, 1], tmp_path / "arm", trainer=OWN, workers=1)
    assert sorted(arm.results) == [0, 1]
    assert (tmp_path / "arm" / "seed-0" / RECEIVED).read_text() == "OwnSettings"
    recorded = yaml.safe_load((tmp_path / "arm" / "seed-0" / "config.yaml").read_text())
    assert recorded == {"name": "own", "lr": 0.02, "epochs": 3, "width": 16}
    again = train_arm("baseline", config, [0, 1], tmp_path / "arm", trainer=OWN, workers=1)
    assert again.results[0].wall_time_s == arm.results[0].wall_time_s  # not trained again


# rule: Phase 3's recommendation on phasegate's setting (optimizer.lr) becomes a patch on
# the user's key that means it (lr), and Phase 4 applies it to the user's config
def test_a_recommendation_patches_the_key_that_means_it(tmp_path: Path) -> None:
    config = _own(tmp_path, {"lr": 0.2, "epochs": 3})
    check = honoured(config.view(), OWN)
    assert check("optimizer.lr") and check("training.epochs") and not check("model.dropout")
    assert config.view().optimizer.lr == 0.2 and config.view().training.epochs == 3
    rec = on_own_keys(_rec({"optimizer.lr": 0.02},
                           {"optimizer.lr": {"type": "float", "low": 0.001, "high": 0.1}}),
                      config)
    assert rec.changes == {"lr": 0.02} and list(rec.space) == ["lr"]
    patched = apply(config, [{"id": "R1", "changes": rec.changes}])
    assert isinstance(patched, OwnConfig)
    assert patched.value() == OwnSettings(lr=0.02, epochs=3)


# rule: a patch outside a key's declared range or choices, or on a key not declared tunable,
# is refused in one line naming the key and what it declares
@pytest.mark.parametrize(("changes", "says"), [
    ({"lr": 5.0}, "lr: 5.0 is outside its range [0.0001, 0.3]"),
    ({"optimizer.lr": 0.0}, "optimizer.lr (lr): 0.0 is outside its range"),
    ({"width": 12}, "width: 12 is not one of its choices [8, 16, 32]"),
    ({"epochs": 2.5}, "epochs: 2.5 is not a whole number"),
    ({"name": "other"}, "name: not a key trainer 'tests.own_trainer:fit' declares tunable"),
    ({"model.dropout": 0.3}, "model.dropout: not a key"),
])
def test_a_patch_outside_what_the_trainer_declares_is_refused(
    tmp_path: Path, changes: dict[str, object], says: str
) -> None:
    config = _own(tmp_path, {"lr": 0.05})
    with pytest.raises(ConfigError) as caught:
        config.with_changes(changes, source="recommendation R1")
    assert says in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError):  # Phase 3 withholds such a recommendation the same way
        on_own_keys(_rec(changes), config)



# rule: a patch the user's model would drop (a declared key that is not a field of it, under
# pydantic's default extra="ignore") is refused in one line, not trained as the unchanged
# config (a sweep's every trial, a recommendation's attempt, all the baseline again)
def test_a_patch_the_users_model_drops_is_refused(tmp_path: Path) -> None:
    config = _own(tmp_path, {"learning_rate": 0.05}, "tests.own_trainer:LooseTrainer")
    with pytest.raises(ConfigError) as caught:
        config.with_changes({"optimizer.lr": 0.01}, source="recommendation R1")
    assert "lr" in str(caught.value) and "\n" not in str(caught.value)


# rule: a model with field aliases (the YAML's learning_rate is the code's lr): fit receives
# the baseline's value, not the field's default, a patch applies, and the run it records is
# found again on resume (the config is kept by field name, validated by name or alias)
def test_an_aliased_own_config_reaches_fit_and_resumes(tmp_path: Path) -> None:
    from workflow.runner import finished_run

    config = _own(tmp_path, {"learning_rate": 0.003}, "tests.own_trainer:AliasTrainer")
    assert config.value().lr == 0.003
    patched = config.with_changes({"optimizer.lr": 0.01})
    assert patched.value().lr == 0.01
    arm = train_arm("alias", patched, [0], tmp_path / "arm",
                    trainer="tests.own_trainer:AliasTrainer", workers=1)
    assert arm.results[0].status.is_usable()
    assert finished_run(tmp_path / "arm" / "seed-0", patched) is not None

# rule: the sweep space of an own config comes from the declared ranges (log for two decades
# or more, int for int bounds, categorical for choices), and a sweep over it trains the
# user's config through its own fit
def test_a_sweep_searches_the_declared_ranges(tmp_path: Path) -> None:
    declared = resolve_trainer_protocol(OWN).tunable
    assert declared is not None
    data = space_from_tunables(declared)
    assert data == {"lr": {"type": "float", "low": 1e-4, "high": 0.3, "log": True},
                    "epochs": {"type": "int", "low": 2, "high": 8, "log": False},
                    "width": {"type": "categorical", "choices": [8, 16, 32]}}
    with pytest.raises(ConfigError, match="optimizer.lr: not a training setting|not a key"):
        parse_space({"optimizer.lr": data["lr"]}, source="space", trainer=OWN)
    space = parse_space(data, source="space", trainer=OWN)
    base = _own(tmp_path, {"lr": 0.2, "epochs": 3})
    baseline = train_arm("baseline", base, [0, 1, 2], tmp_path / "baseline", trainer=OWN,
                         workers=1)
    result = run_sweep(base, space, tmp_path / "sweep",
                       settings=SweepSettings(method="random", pruner="none", trials=4, seed=0,
                                              monitor="val_mse", direction="minimize",
                                              top_k=1),
                       fresh_seeds=[100, 101, 102],
                       baseline_values=list(baseline.values("val_mse").values()),
                       trainer=OWN, workers=1)
    assert len(result.trials) == 4 and all(t.state == "complete" for t in result.trials)
    assert result.chosen is not None and isinstance(result.chosen.config, OwnConfig)
    assert set(result.chosen.params) == {"lr", "epochs", "width"}
    trial = next((tmp_path / "sweep").rglob(RECEIVED))
    assert trial.read_text() == "OwnSettings"


# rule: a plain mapping (config_model = dict) is the config too: fit gets a dict, patches
# go through `means` and the declared ranges
def test_a_plain_mapping_is_an_own_config(tmp_path: Path) -> None:
    config = _own(tmp_path, {"learning_rate": 0.1, "epochs": 2}, MAPPING)
    assert resolve_trainer_protocol(MAPPING).config_model is dict
    patched = config.with_changes({"optimizer.lr": 0.01, "training.epochs": 4})
    assert patched.value() == {"learning_rate": 0.01, "epochs": 4}
    arm = train_arm("mapping", patched, [0], tmp_path / "arm", trainer=MAPPING, workers=1)
    assert arm.results[0].status.is_usable()
    assert (tmp_path / "arm" / "seed-0" / RECEIVED).read_text() == "dict"
    with pytest.raises(ConfigError, match="learning_rate: 1.0 is outside"):
        config.with_changes({"learning_rate": 1.0})


def _evidence(tmp_path: Path, data: dict[str, object]) -> Any:
    from phases.diagnostic.evidence import load_seed_runs
    from phases.diagnostic.phase import evidence_for
    from workflow.project import ProjectConfig

    config = _own(tmp_path, data)
    train_arm("baseline", config, [0, 1, 2], tmp_path / "baseline", trainer=OWN, workers=1)
    project = ProjectConfig.model_validate({
        "name": "own", "baseline": str(tmp_path / "baseline.yaml"), "trainer": OWN,
        "target": {"metric": "val_mse", "direction": "minimize"}})
    runs = load_seed_runs(tmp_path / "baseline", [0, 1, 2], config)
    return evidence_for(runs, config, project, None)


# rule: Phase 3 reads an own config as the phasegate settings its keys mean: a finding that
# reads a setting no key means is not applicable (said why), the curves' findings still run,
# the config table shows only meant settings, and every recommendation is on the own keys
def test_phase3_reads_an_own_config_through_what_its_keys_mean(tmp_path: Path) -> None:
    from phases.diagnostic.diagnosis import diagnose

    evidence = _evidence(tmp_path, {"lr": 0.2, "epochs": 3})
    assert evidence.own is not None and evidence.config.optimizer.lr == 0.2
    found = diagnose(evidence)
    assert "reads optimizer.name and optimizer.momentum, which no key of the trainer's own " \
           "config means" in found.not_applicable["sgd_no_momentum"]
    for applicable in ("lr_too_high", "lr_too_low", "not_converged", "seed_noise"):
        assert applicable not in found.not_applicable
    assert {row.setting for row in found.config_rows} <= {"optimizer.lr", "training.epochs"}
    keys = {k for rec in found.plan.recommendations for k in rec.changes}
    assert keys <= {"lr", "epochs", "width"}


# rule: a candidate on a setting no key means, or outside a key's range, is withheld with the
# reason the report lists; one on a meant setting is kept, as a patch on the own key
def test_phase3_withholds_what_the_own_config_cannot_take(tmp_path: Path) -> None:
    from phases.diagnostic.recommend import _screen

    evidence = _evidence(tmp_path, {"lr": 0.2, "epochs": 3})
    kept, withheld = _screen([_rec({"model.dropout": 0.3}), _rec({"optimizer.lr": 5.0}),
                              _rec({"training.epochs": 6})], [], evidence)
    assert [rec.changes for rec in kept] == [{"epochs": 6}]
    assert withheld[0] == ("lower_lr: model.dropout: no key of the trainer's own config means "
                           "it (a tunable key's `means`)")
    assert "optimizer.lr (lr): 5.0 is outside its range [0.0001, 0.3]" in withheld[1]


# rule: the sweep's scale follows the declared range: log from two decades up (and only
# above zero), int for int bounds, categorical for choices
def test_the_space_of_a_range_follows_its_bounds() -> None:
    from workflow.protocol import Tunable

    def of(given: object) -> dict[str, Any]:
        return space_from_tunables([Tunable.parse("k", given, source="t")])["k"]

    assert of((0.01, 0.5)) == {"type": "float", "low": 0.01, "high": 0.5, "log": False}
    assert of((0.001, 0.1))["log"] is True and of((0.0, 100.0))["log"] is False
    assert of((1, 1000)) == {"type": "int", "low": 1, "high": 1000, "log": True}
    assert of({"choices": ["a", "b"], "means": "optimizer.name"}) == {
        "type": "categorical", "choices": ["a", "b"]}


# rule: a tunable mapping has a range or choices, and optionally what it means
@pytest.mark.parametrize("given", [{"means": "optimizer.lr"}, {"range": (0.1, 1.0), "lr": 1},
                                   {"range": (0.1, 1.0), "choices": [1]},
                                   {"range": (0.1, 1.0), "means": ""}])
def test_a_bad_tunable_mapping_is_refused(given: object) -> None:
    from workflow.errors import PluginError
    from workflow.protocol import Tunable

    with pytest.raises(PluginError, match="tunable 'lr'"):
        Tunable.parse("lr", given, source="trainer 'x:Y'")



class TypoMeans:  # a `means` that names no phasegate setting
    task = "regression"
    config_model = dict
    tunable = {"lr": {"range": (1e-4, 0.3), "means": "optimiser.lr"}}

    def fit(self, config: Any, seed: int, out_dir: Path, **hooks: Any) -> Any: ...

    def evaluate(self, run_dir: Path, split: str) -> Any: ...


class TwiceMeant(TypoMeans):  # two keys that mean the same setting
    tunable = {"lr": {"range": (1e-4, 0.3), "means": "optimizer.lr"},
               "head_lr": {"range": (1e-4, 0.3), "means": "optimizer.lr"}}


# rule: `means` names a phasegate setting, and one key each: a typo, or a second key meaning
# the same setting, is refused when the trainer loads (Phase 3 read either silently: the typo
# as "no key means optimizer.lr", the second key's patches went to the other one)
@pytest.mark.parametrize(("owner", "says"), [
    ("TypoMeans", "means 'optimiser.lr', which is not a phasegate setting"),
    ("TwiceMeant", "'lr' and 'head_lr' both mean 'optimizer.lr'"),
])
def test_what_a_tunable_key_means_is_checked(owner: str, says: str) -> None:
    from workflow.errors import PluginError

    with pytest.raises(PluginError, match=says) as caught:
        resolve_trainer_protocol(f"tests.test_own_config:{owner}")
    assert "\n" not in str(caught.value)

# rule: a config_model that is neither a pydantic model nor dict is refused, naming both
def test_a_config_model_must_be_pydantic_or_dict() -> None:
    from workflow.errors import PluginError
    from workflow.protocol import _config_model

    class Owner:
        config_model = list

    with pytest.raises(PluginError, match="config_model must be a pydantic BaseModel"):
        _config_model("x:Y", Owner())


# rule: an own config's runs are judged at the target's best epoch (phasegate's default
# monitor, val_accuracy, is not the trainer's unless a key means training.monitor)
def test_an_own_configs_best_epoch_is_the_targets(tmp_path: Path) -> None:
    from phases.diagnostic.evidence import Evidence, SeedRun
    from workflow.metric import Metric

    config = _own(tmp_path, {"lr": 0.05})
    rows = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "val_mse": 0.9, "val_accuracy": 0.9},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.5, "val_mse": 0.4, "val_accuracy": 0.1}]
    run = SeedRun.from_history(0, rows)
    evidence = Evidence(runs=[run], config=config.view(), own=config,
                        target=Metric.named("val_mse", "minimize"))
    assert evidence.best_row(run)["epoch"] == 2


# rule: an own config's keys are its own names, not phasegate's settings: Phase 3 honours each
# by its exact name and the settings they mean (a key named `optimizer` is not the section)
def test_an_own_key_is_not_a_phasegate_section(tmp_path: Path) -> None:
    config = _own(tmp_path, {"learning_rate": 0.1}, MAPPING)
    check = honoured(config.view(), MAPPING)
    assert check("optimizer.lr") and check("training.epochs") and check("learning_rate")
    assert check("optimizer") and not check("optimizer.momentum") and not check("model.dropout")


# rule: Phases 3 and 4 on an own config, through the library: the baseline trains the user's
# file, Phase 3 recommends patches on its keys (within their ranges; the keys no other
# recommendation claims are searched), and Phase 4's attempt trains the patched user config
def test_phases_3_and_4_work_on_an_own_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phases.optimization.phase import optimize

    store, diagnosis = _diagnosed(tmp_path, monkeypatch, iteration_limit=2)
    recs = diagnosis.plan.recommendations
    assert len(recs) >= 3 and {k for r in recs for k in (*r.changes, *r.space)} <= {
        "lr", "epochs", "width"}
    lr_space = next(r.space["lr"] for r in recs if "lr" in r.space)
    assert 1e-4 <= lr_space["low"] < lr_space["high"] <= 0.3  # held inside the declared range
    assert any("schedule.name" in w and "no key of the trainer's own config" in w
               for w in diagnosis.plan.withheld)
    outcome = optimize(store, "auto", workers=1, who="tester")
    tried = [a.config for a in outcome.attempts]
    assert tried and all(set(c) == {"name", "lr", "epochs", "width"} for c in tried)
    assert any(c["epochs"] != 3 for c in tried)
    assert (tmp_path / "runs" / "own" / "phase4" / "attempt-1" / "seed-0" / RECEIVED
            ).read_text() == "OwnSettings"


# rule: a sweep worker given the project on its own host runs a study of an own config when
# the study's base config is the project's own file, and refuses one that differs, naming it
def test_a_worker_compares_an_own_config_as_it_is(tmp_path: Path) -> None:
    from phases.optimization.sweep.study import SweepSpec
    from phases.optimization.sweep.trust import LocalRun, trusted_run

    (tmp_path / "baseline.yaml").write_text("lr: 0.05\ndata: here\n")
    (tmp_path / "project.yaml").write_text(yaml.safe_dump({
        "name": "own", "baseline": "baseline.yaml", "trainer": MAPPING,
        "target": {"metric": "val_mse", "direction": "minimize"}}))
    local = LocalRun.from_project(tmp_path / "project.yaml")
    assert isinstance(local.base, OwnConfig)

    def spec(base: str) -> SweepSpec:
        return SweepSpec(base_config=base, space={}, method="random", pruner="none", seed=0,
                         train_seed=0, monitor="val_mse", direction="minimize", trainer=MAPPING,
                         trial_root=str(tmp_path), max_trials=1, max_epochs=None)

    assert trusted_run(spec(local.base.to_yaml()), "s", local).base == local.base
    with pytest.raises(ConfigError, match="base config differs .* in lr"):
        trusted_run(spec("lr: 0.1\ndata: here\n"), "s", local)


# rule: Phase 4's sweep strategy on an own config parses its space against the keys the
# trainer declares (it refused `lr` as "not a training setting" of TrainConfig), searches
# them, and trains the chosen point as the user's own config
def test_the_sweep_strategy_searches_an_own_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phases.optimization.phase import optimize

    store, _ = _diagnosed(tmp_path, monkeypatch, iteration_limit=1)
    outcome = optimize(store, "sweep", workers=1, who="tester",
                       sweep_settings={"trials": 3, "method": "random", "top_k": 1},
                       space={"lr": {"type": "float", "low": 0.01, "high": 0.3, "log": True}})
    sweep = outcome.attempts[0]
    assert sweep.sweep_key and set(sweep.config) == {"name", "lr", "epochs", "width"}
    assert 0.01 <= sweep.config["lr"] <= 0.3
    assert (tmp_path / "runs" / "own" / "phase4" / "attempt-1" / "seed-0" / RECEIVED
            ).read_text() == "OwnSettings"


# rule: a shipped pruner is sized by the epochs a trial trains; with no key of the own config
# meaning training.epochs that count is unknown, and the pruner is off, said in one line
# (it was sized for one epoch and pruned trials from their first epochs)
def test_a_pruner_is_off_when_no_key_means_the_epochs(tmp_path: Path) -> None:
    import optuna

    from phases.optimization.sweep.study import SweepSpec, make_pruner, pruning_off

    unknown = _own(tmp_path, {"learning_rate": 0.05}, "tests.own_trainer:AliasTrainer")
    known = _own(tmp_path, {"lr": 0.05, "epochs": 6})
    assert not unknown.training.known and known.training.epochs == 6
    said = pruning_off("median", unknown)
    assert said is not None and "no key of the trainer's own config means training.epochs" in said
    assert pruning_off("median", known) is None and pruning_off("none", unknown) is None
    spec = SweepSpec(base_config="", space={}, method="random", pruner="median", seed=0,
                     train_seed=0, monitor="val_mse", direction="minimize", trainer=OWN,
                     trial_root=str(tmp_path), max_trials=1, max_epochs=None)
    assert isinstance(make_pruner(spec, None), optuna.pruners.NopPruner)
    assert isinstance(make_pruner(spec, 6), optuna.pruners.MedianPruner)
