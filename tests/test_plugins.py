"""workflow.plugins: a plug-in is a function or class of the user's own code that fits its
contract, checked before it is imported (the standard library) or called (issue 17).

The module-level imports below are on purpose: `tests.test_plugins:os.system`
is how a project file would reach a standard-library function through a module
of its own.
"""

from __future__ import annotations

import functools
import os  # noqa: F401 - reached as tests.test_plugins:os.system
import subprocess  # noqa: F401 - reached as tests.test_plugins:subprocess.run
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import tiny_config
from workflow.errors import PluginError
from workflow.plugins import CONTRACTS, load_callable, load_class

HERE = "tests.test_plugins"


def dataset(root: str | None) -> tuple[list[list[float]], list[int]]:
    return [[0.0], [1.0]] * 10, [0, 1] * 10


def needs_more(root: str, secret: str) -> None:
    raise AssertionError("never called")


def model(num_classes: int, input_shape: tuple[int, ...], **kwargs: Any) -> None:
    return None


def model_without_shape(num_classes: int) -> None:
    return None


class Base:
    pass


class Good(Base):
    pass


partial_dataset = functools.partial(dataset)
not_callable = 3


# rule: the standard library is refused by name, before its module is imported
@pytest.mark.parametrize(
    "spec", ["os:system", "subprocess:run", "builtins:exec", "os.path:join", "shutil:rmtree"]
)
def test_standard_library_is_refused_by_name(spec: str) -> None:
    with pytest.raises(PluginError, match=r"standard library, not a plug-in") as info:
        load_callable(spec, role="dataset")
    assert "\n" not in str(info.value)


# rule: a standard-library or C function reached through the user's own module is refused too
@pytest.mark.parametrize(
    "attr", ["os.system", "subprocess.run", "yaml.safe_load.__call__", "print"]
)
def test_standard_library_reached_through_a_users_module_is_refused(attr: str) -> None:
    with pytest.raises(PluginError, match=r"standard library|dunder|has no attribute"):
        load_callable(f"{HERE}:{attr}", role="dataset")


# rule: only a function or a class; a partial, a number or a module is not a plug-in
@pytest.mark.parametrize("attr", ["partial_dataset", "not_callable", "yaml"])
def test_only_functions_and_classes(attr: str) -> None:
    with pytest.raises(PluginError, match="not a function or class|not a plug-in of your own"):
        load_callable(f"{HERE}:{attr}", role="dataset")


# rule: the whole contract of a role is checked, whatever the caller passes itself
def test_each_roles_contract_is_checked() -> None:
    assert load_callable(f"{HERE}:dataset", role="dataset") is dataset
    assert load_callable(f"{HERE}:model", role="model", required=()) is model
    with pytest.raises(PluginError, match=r"needs \(secret\), which the contract never gives"):
        load_callable(f"{HERE}:needs_more", role="dataset")
    with pytest.raises(PluginError, match=r"lacks keyword argument\(s\) input_shape"):
        load_callable(f"{HERE}:model_without_shape", role="model", required=())
    assert set(CONTRACTS) == {"dataset", "model", "trainer"}


def test_classes_still_load_and_dunders_are_refused() -> None:
    assert load_class(f"{HERE}:Good", role="strategy", base=Base) is Good
    with pytest.raises(PluginError, match="dunder"):
        load_class(f"{HERE}:Good.__base__", role="strategy", base=Base)
    with pytest.raises(PluginError, match="standard library"):
        load_class("collections:OrderedDict", role="strategy", base=Base)


# rule: `phasegate train` with `dataset: "os:system"` is refused in one line, exit 2, and the
# command in `root` never runs
def test_train_refuses_os_system_as_a_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workflow.cli import main

    marker = tmp_path / "pwned"
    config = tiny_config(data={"dataset": "os:system", "root": f"touch {marker}"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    code = main(["train", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert "standard library" in lines[-1] and "Traceback" not in err
    assert not marker.exists()
    assert not (tmp_path / "run").exists()


# rule: a read-only command can check a plug-in's name without importing its module
def test_check_spec_refuses_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    from workflow.plugins import check_spec

    marker = tmp_path / "imported"
    (tmp_path / "noisy_checks.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                              "def ok(facts, run_dir): return True, 'fine'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert check_spec("noisy_checks:ok", role="check x") == ("noisy_checks", "ok")
    assert not marker.exists()
    for spec, match in (("os:system", "standard library"), ("noisy_checks", "expected"),
                        ("noisy_checks:__dict__", "dunder")):
        with pytest.raises(PluginError, match=match):
            check_spec(spec, role="check x")
    assert not marker.exists()
