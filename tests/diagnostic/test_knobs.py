"""A plug-in model declares the generic knobs it accepts (`phasegate_knobs`): it receives them,
and Phase 3's `honoured` lets only those (and the trainer's own settings) be recommended."""

from __future__ import annotations

from pathlib import Path

import pytest

from phases.diagnostic.knobs import honoured, unhonoured
from workflow.errors import ConfigError
from workflow.trainer.config import TrainConfig

PLUGIN = """\
from torch import nn
SEEN = {}
def plain(num_classes, input_shape, **kwargs):
    SEEN['plain'] = kwargs
    return nn.Linear(64, num_classes)
def knobbed(num_classes, input_shape, dropout=0.0, **kwargs):
    SEEN['knobbed'] = {'dropout': dropout, **kwargs}
    return nn.Linear(64, num_classes)
knobbed.phasegate_knobs = ('dropout',)
def odd(num_classes, input_shape, **kwargs):
    return nn.Linear(64, num_classes)
odd.phasegate_knobs = ('lr',)
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    (tmp_path / "knobmodels.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    import knobmodels

    return knobmodels


def _config(name: str) -> TrainConfig:
    return TrainConfig.model_validate({"model": {"name": name, "dropout": 0.3,
                                                 "kwargs": {"hidden": 8}}})


def test_a_plugin_receives_only_the_generic_knobs_it_declares(plugin: object) -> None:
    from workflow.trainer.models import build_model

    build_model(_config("knobmodels:plain").model, (1, 8, 8), 10)
    build_model(_config("knobmodels:knobbed").model, (1, 8, 8), 10)
    seen = plugin.SEEN  # type: ignore[attr-defined]
    assert seen["plain"] == {"hidden": 8}
    assert seen["knobbed"] == {"dropout": 0.3, "hidden": 8}
    with pytest.raises(ConfigError, match="'lr' is not a generic model setting"):
        build_model(_config("knobmodels:odd").model, (1, 8, 8), 10)


def test_phase3_asks_one_function_which_settings_are_honoured(plugin: object) -> None:
    settings = ["model.dropout", "model.widths", "model.kwargs.hidden", "model.freeze",
                "optimizer.lr", "data.batch_size"]
    assert unhonoured(_config("knobmodels:plain"), settings) == ["model.dropout",
                                                                 "model.widths"]
    assert unhonoured(_config("knobmodels:knobbed"), settings) == ["model.widths"]
    assert all(honoured(TrainConfig())(s) for s in settings)  # a built-in model: all
