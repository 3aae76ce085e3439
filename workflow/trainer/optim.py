"""The optimizer a config names, built and stepped without importing an unused compiler.

torch's optimizers import `torch._dynamo` (the compiler's front end: 1.7 s on an
idle 2-core machine, several seconds on a busy one) on their first method call,
only for two things that do nothing when nothing is compiled: to mark their
methods "not to be compiled" (`torch._disable_dynamo`, which asks
`torch._dynamo.disable(fn)` once per method and caches the answer on `fn`) and
to place graph breaks around every `step` (`torch._dynamo.graph_break()`). A run
that compiled nothing paid the import anyway, once per process: the first seed
of every command and of every worker.

`make_optimizer` returns the optimizer with its dynamo-touching methods (the
constructor, `step`, `zero_grad`, `state_dict`, `load_state_dict`) shielded:
while one of them runs, and only while the real `torch._dynamo` has not been
imported, a stand-in takes its place (`_Standin`). The stand-in answers those
two questions as eager mode does (`disable(fn)` is `fn`, `graph_break()` does
nothing); any other question imports the real compiler at once and hands over
to it. When the real compiler is imported, by anyone, the answers the stand-in
gave are dropped from torch's caches (`_Watch`), so a model compiled later in
the same process sees torch's own behaviour. Once the real compiler is loaded
the shields only pass calls through.

One case the stand-in cannot hand over cleanly: a first import of a submodule
(`import torch._dynamo.utils`) by other code *while* a shielded call runs (from
another thread, or an optimizer hook) finds the stand-in as the package, loads
the real one, and then executes that submodule a second time. Nothing in
phasegate imports one there; torchvision does at its own import, which is why
the stand-in stands only during the shielded calls, never across a whole run.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch

from workflow.trainer.config import TrainConfig

__all__ = ["make_optimizer", "standin_active"]

_NAME = "torch._dynamo"
_CACHE = "__dynamo_disable"  # torch's cache, on each function `torch._disable_dynamo` wraps
_SHIELDED = ("step", "zero_grad", "state_dict", "load_state_dict")


def make_optimizer(config: TrainConfig, parameters: Any, *, lr: float) -> torch.optim.Optimizer:
    """The configured optimizer over `parameters` (tensors or groups): the one place it is built."""
    c = config.optimizer
    wd = c.weight_decay
    build: Callable[[], torch.optim.Optimizer]
    if c.name == "sgd":
        build = functools.partial(torch.optim.SGD, parameters, lr=lr, weight_decay=wd,
                                  momentum=c.momentum, nesterov=c.nesterov)
    elif c.name == "adam":
        build = functools.partial(torch.optim.Adam, parameters, lr=lr, weight_decay=wd,
                                  betas=c.betas)
    elif c.name == "adamw":
        build = functools.partial(torch.optim.AdamW, parameters, lr=lr, weight_decay=wd,
                                  betas=c.betas)
    else:
        build = functools.partial(torch.optim.RMSprop, parameters, lr=lr, weight_decay=wd,
                                  momentum=c.momentum)
    optimizer = _shield(build)()
    for name in _SHIELDED:
        # an instance attribute, so the class (and any other optimizer) is left as torch made it
        setattr(optimizer, name, _shield(getattr(optimizer, name)))
    return optimizer


def standin_active() -> bool:
    """Whether the real `torch._dynamo` is still not imported in this process (a test asks)."""
    return _NAME not in sys.modules or sys.modules[_NAME] is _STANDIN


def _shield(call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, run with the stand-in as `torch._dynamo` unless the real one is imported."""

    @functools.wraps(call)
    def shielded(*args: Any, **kwargs: Any) -> Any:
        if _NAME in sys.modules:  # the real compiler, or an outer shielded call's stand-in
            return call(*args, **kwargs)
        _STANDIN.enter()
        try:
            return call(*args, **kwargs)
        finally:
            _STANDIN.leave()

    return shielded


class _Standin(types.ModuleType):
    """`torch._dynamo` during a shielded call, until something needs the real one."""

    def __init__(self) -> None:
        super().__init__(_NAME, "phasegate's stand-in while no compiler is needed")
        self._answered: list[Callable[..., Any]] = []
        self._lock = threading.Lock()

    def enter(self) -> None:
        sys.modules[_NAME] = self
        torch._dynamo = self  # `torch._dynamo.x` reads this attribute

    def leave(self) -> None:
        if sys.modules.get(_NAME) is self:
            del sys.modules[_NAME]
            # torch's own lazy attribute imports the real module if anyone asks later
            vars(torch).pop("_dynamo", None)

    # ---- the two questions, answered as eager mode does ----

    def graph_break(self) -> None:
        return None

    def disable(self, fn: Callable[..., Any], recursive: bool = True, wrapping: bool = True
                ) -> Callable[..., Any]:
        with self._lock:
            self._answered.append(fn)
        _Watch.install()
        return fn

    # ---- any other question: the real compiler, from here on ----

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name != "__path__":
            raise AttributeError(name)
        self.leave()
        return getattr(importlib.import_module(_NAME), name)

    def forget(self) -> None:
        """Drop the answers given from torch's caches: torch asks the real compiler again."""
        with self._lock:
            answered, self._answered = self._answered, []
        for fn in answered:
            if getattr(fn, _CACHE, None) is fn:
                delattr(fn, _CACHE)


class _Watch:
    """Sees the real `torch._dynamo` being imported (it never changes an import)."""

    installed = False

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            cls.installed = True
            sys.meta_path.insert(0, cls())

    def find_spec(self, name: str, path: Sequence[str] | None, target: Any = None) -> None:
        if name == _NAME:
            _STANDIN.forget()
        return None


_STANDIN = _Standin()
