"""Which settings the model and the trainer honour: the one question Phase 3 asks before it
recommends a change (a dropout a plug-in model never receives is no recommendation).

- The built-in trainer with a built-in model honours every setting of `TrainConfig`.
- A plug-in model (`model.name: module:function`) receives `model.kwargs`, and the generic
  model settings it declares (`workflow.trainer.builtin.declared_knobs`: a `phasegate_knobs`
  attribute on the function, e.g. `("dropout", "widths")`); the other `model.*` settings
  never reach it. Every setting outside `model.*` is the trainer's and is honoured.
- A user's own trainer (`trainer:` other than builtin) honours the config keys it declares
  tunable (the trainer protocol's `tunable_keys`, issue 13) and the keys below them, and
  the phasegate settings those keys mean (`means`: `lr` means `optimizer.lr`); one that
  declares none is taken to honour every setting. The keys of a trainer's own config are
  its own names, honoured exactly (a key `optimizer` is not phasegate's section).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from workflow.trainer.config import BUILTIN_MODELS, TrainConfig

__all__ = ["GENERIC_MODEL_KNOBS", "honoured", "unhonoured"]

# the model settings a built-in model reads (a plug-in gets those it declares)
GENERIC_MODEL_KNOBS = ("widths", "width", "depth", "channels", "dropout")
# the model settings every model honours: the trainer applies them around the model
TRAINER_MODEL_KNOBS = ("freeze", "head", "pretrained", "kwargs")


def honoured(config: TrainConfig, trainer: str = "builtin") -> Callable[[str], bool]:
    """A predicate: does a change of this dotted setting reach the model or the trainer?"""
    if trainer != "builtin":
        keys = _tunable(trainer)
        if keys is None:
            return lambda setting: True
        own = _own_keys(trainer)  # an own config's keys: honoured by their exact name
        return lambda setting: setting in own or any(
            setting == k or setting.startswith(k + ".") or k.startswith(setting + ".")
            for k in keys)
    model = config.model.name
    if model in BUILTIN_MODELS or ":" not in model:
        return lambda setting: True
    declared = _declared(model)

    def honours(setting: str) -> bool:
        section, _, rest = setting.partition(".")
        if section != "model" or not rest:
            return True
        knob = rest.split(".")[0]
        return knob in TRAINER_MODEL_KNOBS or knob == "name" or knob in declared

    return honours


def unhonoured(config: TrainConfig, settings: Iterable[str], trainer: str = "builtin") -> list[str]:
    """The settings of `settings` that would not reach the model or the trainer."""
    check = honoured(config, trainer)
    return [s for s in settings if not check(s)]


def _tunable(trainer: str) -> tuple[str, ...] | None:
    """The keys a user's trainer declares tunable (None: not known, take every one)."""
    try:
        from workflow.protocol import tunable_keys  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    from workflow.own_config import own_model

    declared = tunable_keys(trainer)
    if declared is None:
        return None
    means = tuple(t.means for t in declared if t.means)
    if own_model(trainer) is not None:  # its keys are its own, not phasegate's settings
        return means
    return tuple(t.key for t in declared) + means


def _own_keys(trainer: str) -> frozenset[str]:
    """The tunable keys of a trainer's own config (none for one that takes TrainConfig)."""
    from workflow.own_config import own_model
    from workflow.protocol import tunable_keys

    if own_model(trainer) is None:
        return frozenset()
    return frozenset(t.key for t in tunable_keys(trainer) or ())


def _declared(spec: str) -> tuple[str, ...]:
    from workflow.errors import WorkflowError

    try:
        from workflow.plugins import load_callable
        from workflow.trainer.builtin import declared_knobs  # the protocol's side, issue 13

        return declared_knobs(load_callable(spec, role="model"))
    except (WorkflowError, ImportError):
        return ()  # a plug-in that does not load declares nothing (the run fails on its own)
