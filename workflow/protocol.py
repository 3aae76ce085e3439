"""The trainer protocol: everything phasegate asks of a trainer, built-in or a user's.

```
fit(config, seed, out_dir, *, report=None, should_stop=None) -> RunResult
evaluate(run_dir, split) -> Evaluation        # Phase 5's one test look ("test")
export(run_dir, dest) -> dict | None          # optional: how to package the model
task = "classification" | "regression" | "other"
tunable = {"optimizer.lr": (1e-4, 1e-1), "model.kwargs.hidden": [16, 32, 64], ...}
config_model = MyConfig | dict                 # optional: the trainer's own config
```

A project names its trainer once (`trainer:` in the project file) and
`resolve_trainer_protocol` turns it into a frozen `TrainerProtocol`, checked
when it is loaded: a trainer without `evaluate` is refused with one line naming
what is missing. The name may be

- `builtin`: phasegate's own trainer (`workflow.trainer.builtin`);
- `module:Class`: a class (derived from `Trainer`, or any class with the same
  methods), instantiated without arguments;
- `module:object`: an instance with those methods;
- `module:fit`: a function; `evaluate`, `export`, `TASK` and `TUNABLE` are then
  looked up beside it, in its module: a trainer in one file.

A bare `module:fit` whose module defines no `evaluate` is the older, train-only
form: it trains (Phases 3 and 4) and Phase 5 refuses it before the test look,
naming what is missing. Every other form lacking `evaluate` is refused at `init`.

`config_model` (a module's `CONFIG_MODEL`) is the config the trainer accepts:
a pydantic `BaseModel` subclass, or `dict` for a plain mapping. Declared, the
project's baseline YAML is the user's own config, validated by that model, and
`fit` receives an instance of it (or a dict): `workflow.own_config`. Not
declared, `fit` receives phasegate's `TrainConfig`, as the built-in trainer does.

`tunable` are the config keys the trainer honours, with their ranges: dotted
paths of its own config (`lr`, `net.width`), or of `TrainConfig` when it has no
own config (`optimizer.lr`, `model.kwargs.hidden`). Each is `(low, high)`, a list
of choices, or `{"range": (low, high) | "choices": [...], "means": "optimizer.lr"}`:
`means` names the phasegate setting the key is, so Phase 3's recommendations
("lower the lr", "train longer") become patches on the user's key. Phase 3 and
Phase 4 ask `tunable_keys(spec)` which knobs they may recommend and patch. A
trainer that declares none is taken to honour every key (None).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from workflow.errors import PluginError
from workflow.plugins import check_spec, load_callable
from workflow.trainer.user_run import write_run

__all__ = [
    "TASKS",
    "Evaluation",
    "Task",
    "Trainer",
    "TrainerProtocol",
    "Tunable",
    "resolve_trainer_protocol",
    "tunable_keys",
    "write_run",
]

Task = Literal["classification", "regression", "other"]
TASKS: tuple[Task, ...] = ("classification", "regression", "other")
SPLITS = ("val", "test")
BUILTIN_MODULE = "workflow.trainer.builtin"


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate(run_dir, split)` returns: one target and one prediction per example
    (class indices for a classifier, numbers for a regression), and the split's metrics
    as the trainer computes them (`{"test_mse": 0.41}`)."""

    targets: Sequence[float]
    predictions: Sequence[float]
    metrics: Mapping[str, float] = field(default_factory=dict)
    class_names: Sequence[str] = ()

    def __post_init__(self) -> None:
        if len(self.targets) != len(self.predictions):
            raise PluginError(f"evaluate returned {len(self.predictions)} predictions for "
                              f"{len(self.targets)} targets; they must pair one to one")


@dataclass(frozen=True)
class Tunable:
    """One config key a trainer honours, and the values Phase 3 and 4 may give it."""

    key: str  # a dotted path of the trainer's config: lr, optimizer.lr, model.kwargs.hidden
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    means: str | None = None  # the phasegate setting this key is (optimizer.lr), if any
    integer: bool = False  # a range given by two ints: its values are whole numbers

    @classmethod
    def parse(cls, key: str, given: Any, *, source: str) -> Tunable:
        """`(low, high)` for a range, a list for choices, or a mapping that also says
        what the key `means` (`{"range": (1e-4, 0.3), "means": "optimizer.lr"}`)."""
        means = None
        if isinstance(given, Mapping):
            unknown = sorted(set(given) - {"range", "choices", "means"})
            if unknown or ("range" in given) == ("choices" in given):
                raise PluginError(f"{source}: tunable {key!r}: a mapping has 'range' or "
                                  f"'choices', and optionally 'means', but got {dict(given)!r}")
            means = given.get("means")
            if means is not None and not (isinstance(means, str) and means):
                raise PluginError(f"{source}: tunable {key!r}: means is a dotted phasegate "
                                  f"setting such as 'optimizer.lr', but got {means!r}")
            given = tuple(given["range"]) if "range" in given else list(given["choices"])
        if isinstance(given, tuple) and len(given) == 2 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in given):
            low, high = float(given[0]), float(given[1])
            if not low < high:
                raise PluginError(f"{source}: tunable {key!r}: range needs low < high, "
                                  f"but got {given!r}")
            return cls(key, low=low, high=high, means=means,
                       integer=all(isinstance(v, int) for v in given))
        if isinstance(given, list) and given:
            return cls(key, choices=tuple(given), means=means)
        raise PluginError(f"{source}: tunable {key!r}: expected (low, high) or a list of "
                          f"choices, but got {given!r}")

    def refusal(self, value: Any) -> str | None:
        """Why `value` is outside what this key declares (None: it is inside)."""
        if self.choices is not None:
            if value in self.choices:
                return None
            return f"{value!r} is not one of its choices {list(self.choices)}"
        assert self.low is not None and self.high is not None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number in its range [{self.low:g}, {self.high:g}]"
        if self.integer and value != int(value):
            return f"{value!r} is not a whole number (its range is [{self.low:g}, {self.high:g}])"
        if not self.low <= value <= self.high:
            return f"{value!r} is outside its range [{self.low:g}, {self.high:g}]"
        return None

    def to_dict(self) -> dict[str, Any]:
        means = {"means": self.means} if self.means else {}
        if self.choices is not None:
            return {"key": self.key, "choices": list(self.choices), **means}
        return {"key": self.key, "low": self.low, "high": self.high, **means}


class Trainer(ABC):
    """A base a user's trainer may derive from (any class with these methods also fits)."""

    task: ClassVar[Task] = "classification"
    tunable: ClassVar[Mapping[str, Any] | None] = None  # None: every config key is honoured
    # the config `fit` receives: a pydantic model, `dict`, or None for phasegate's TrainConfig
    config_model: ClassVar[type | None] = None

    @abstractmethod
    def fit(self, config: Any, seed: int, out_dir: Path, *,
            report: Callable[[int, dict[str, float]], None] | None = None,
            should_stop: Callable[[], str | None] | None = None) -> Any:
        """Train `config` with `seed` into `out_dir` (`workflow.trainer.run_folder.write_run`)."""

    @abstractmethod
    def evaluate(self, run_dir: Path, split: str) -> Evaluation:
        """The model of the finished run `run_dir` on `split` ("val" or "test")."""

    def export(self, run_dir: Path, dest: Path) -> dict[str, Any] | None:
        """Package the model of `run_dir` into `dest`; what was written (None: nothing)."""
        return None


@dataclass(frozen=True)
class TrainerProtocol:
    """A resolved trainer: the callables phasegate uses, and nothing else of it."""

    spec: str
    fit: Callable[..., Any]
    evaluate: Callable[[Path, str], Evaluation] | None
    export: Callable[[Path, Path], dict[str, Any] | None] | None = None
    task: Task = "classification"
    tunable: tuple[Tunable, ...] | None = None  # None: not declared (every key taken as honoured)
    config_model: type | None = None  # None: fit receives TrainConfig (workflow.own_config)

    @property
    def is_builtin(self) -> bool:
        return self.spec == "builtin"

    @property
    def builtin_runs(self) -> bool:
        """Whether its runs are the built-in trainer's (its own `fit` wrapping phasegate's,
        with the built-in `evaluate`): Phase 5 then exports and checks them as the built-in's."""
        evaluate = self.evaluate
        return self.is_builtin or getattr(evaluate, "__module__", None) == BUILTIN_MODULE

    def missing(self) -> list[str]:
        """What Phase 5 needs of this trainer and it lacks."""
        return [] if self.evaluate is not None else ["evaluate(run_dir, split)"]


@functools.cache
def resolve_trainer_protocol(spec: str) -> TrainerProtocol:
    """The trainer named `spec`, checked (see the module docstring); cached per process."""
    if spec == "builtin":
        from workflow.trainer.builtin import BUILTIN

        return BUILTIN
    module_name, _ = check_spec(spec, role="trainer", shape="module:Class")
    from workflow.plugins import _resolve

    target = _resolve(spec, "trainer", "module:Class")
    if inspect.isfunction(target):
        fit = load_callable(spec, role="trainer")
        # the module the spec names, not the one fit was defined in: a trainer file may
        # import its fit from elsewhere and define evaluate beside that import
        home: Any = importlib.import_module(module_name)
        evaluate = getattr(home, "evaluate", None)
        if evaluate is None:  # the train-only form: Phase 5 refuses it, naming evaluate
            return TrainerProtocol(spec, fit, None)
        return _protocol(spec, home, fit, legacy_name=f"module {module_name!r}")
    instance = target
    if inspect.isclass(target):
        try:
            instance = target()
        except Exception as exc:  # a user's constructor may fail in any way
            raise PluginError(f"trainer {spec!r}: {target.__name__}() failed "
                              f"({exc.__class__.__name__}: {exc})") from None
    missing = [name for name in ("fit", "evaluate") if not callable(getattr(instance, name, None))]
    if missing:
        raise PluginError(f"trainer {spec!r} lacks {' and '.join(missing)}: a trainer has "
                          "fit(config, seed, out_dir, *, report, should_stop) and "
                          "evaluate(run_dir, split)")
    return _protocol(spec, instance, instance.fit, legacy_name=f"{spec!r}")


def _protocol(spec: str, owner: Any, fit: Callable[..., Any], *, legacy_name: str
              ) -> TrainerProtocol:
    from workflow.plugins import _check_signature

    evaluate = getattr(owner, "evaluate", None)
    export = getattr(owner, "export", None)
    if not callable(evaluate):
        raise PluginError(f"trainer {spec!r}: {legacy_name} has no callable evaluate")
    _check_signature(fit, spec, "trainer", ("config", "seed", "out_dir"),
                     ("report", "should_stop"))
    _check_signature(evaluate, f"{spec} evaluate", "trainer", ("run_dir", "split"), ())
    if export is not None:
        _check_signature(export, f"{spec} export", "trainer", ("run_dir", "dest"), ())
    task = getattr(owner, "task", None) or getattr(owner, "TASK", None) or "classification"
    if task not in TASKS:
        raise PluginError(f"trainer {spec!r}: task must be one of {', '.join(TASKS)}, "
                          f"but got {task!r}")
    model = _config_model(spec, owner)
    given = getattr(owner, "tunable", None)
    if given is None:
        given = getattr(owner, "TUNABLE", None)
    if given is None:  # not declared: Phase 3 and 4 take every key as honoured
        return TrainerProtocol(spec, fit, evaluate, export, task, None, model)
    if not isinstance(given, Mapping):
        raise PluginError(f"trainer {spec!r}: tunable must map config keys to ranges, "
                          f"but got {type(given).__name__}")
    tunable = tuple(Tunable.parse(str(k), v, source=f"trainer {spec!r}")
                    for k, v in given.items())
    _check_means(spec, tunable)
    return TrainerProtocol(spec, fit, evaluate, export, task, tunable, model)


def _check_means(spec: str, tunable: tuple[Tunable, ...]) -> None:
    """Each `means` is a setting of phasegate's `TrainConfig`, meant by one key only (else
    Phase 3 would read a typo as "no key means it", and patch only one of two keys)."""
    from workflow.io import is_model, union_members
    from workflow.trainer.config import TrainConfig

    seen: dict[str, str] = {}
    for t in tunable:
        if t.means is None:
            continue
        if t.means in seen:
            raise PluginError(f"trainer {spec!r}: tunable {seen[t.means]!r} and {t.key!r} both "
                              f"mean {t.means!r}; a setting is meant by one key")
        seen[t.means] = t.key
        current: Any = TrainConfig
        for part in t.means.split("."):
            model = next((m for m in union_members(current) if is_model(m)), None)
            if model is None and any(m is dict or getattr(m, "__origin__", None) is dict
                                     for m in union_members(current)):
                break  # a free-form section (model.kwargs): its keys are the trainer's
            if model is None or part not in model.model_fields:
                raise PluginError(f"trainer {spec!r}: tunable {t.key!r} means {t.means!r}, "
                                  "which is not a phasegate setting (optimizer.lr, "
                                  "training.epochs, model.dropout, ...)")
            current = model.model_fields[part].annotation


def _config_model(spec: str, owner: Any) -> type | None:
    """The trainer's own config model (`config_model` or `CONFIG_MODEL`), checked."""
    from pydantic import BaseModel

    model = getattr(owner, "config_model", None)
    if model is None:
        model = getattr(owner, "CONFIG_MODEL", None)
    if model is None or model is dict or (isinstance(model, type)
                                          and issubclass(model, BaseModel)):
        return model
    raise PluginError(f"trainer {spec!r}: config_model must be a pydantic BaseModel subclass "
                      f"or dict (a plain mapping), but got {model!r}")


def tunable_keys(spec: str) -> tuple[Tunable, ...] | None:
    """The config keys the trainer `spec` declares tunable, with their ranges.

    None when every key is taken as honoured: phasegate's own trainer (it honours every
    knob of its config), and a trainer that declares no `tunable` (a train-only `fit`
    among them). A trainer that declares them honours only those (possibly none).
    """
    protocol = resolve_trainer_protocol(spec)
    return None if protocol.is_builtin else protocol.tunable
