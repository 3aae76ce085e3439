"""The test lock: the only door to the test split.

The test split is looked at once in a project's life, in Phase 5, after the
final training: a look taken earlier would let the test set steer choices it
is meant to judge, and a second look would do the same to the choices after it.
Nothing else in phasegate asks `load_data` for the test split (a test checks
that this module is the only caller).

A look is a *session* that names, as it opens, the model files it evaluates,
and asks the trainer's `evaluate(run_dir, "test")` (workflow.protocol) for each
run, whichever trainer it is:

```
models = {"final": final_best_pt, "baseline": baseline_best_pt, "torchscript": scripted}
with open_test_split(store, who="ana", models=models) as test:
    final = test.evaluate("final", final_run, final_best_pt, trainer)
    baseline = test.evaluate("baseline", baseline_run, baseline_best_pt, trainer)
    scripted = test.predict_torchscript("torchscript", scripted, like="final")
```

It opens only while the project is `optimized` and its final training is
recorded (`phase5.final_training_completed`), and only if no look was recorded
before. Before the split is read, the opening is recorded (`phase5.test_look`:
when, by whom, each model file's sha256) and logged (`test_lock_opened`). When
the block ends, every arm's predictions are written to
`phase5/test_predictions.csv` and the look is recorded: `phase5.test_evaluations`
(1) and `phase5.test_lock` (when, by whom, the arms, the sha256 of the CSV).
Any other attempt raises `TestSetLocked` naming the lock, and is logged as a
`test_lock_refused` event. Afterwards the saved predictions are read back with
`recorded_evaluation`, which checks their hash: they are never recomputed.

The opening and the evaluation are one step as far as a rerun can tell. A
session killed after it opened and before it recorded its evaluation is that
one look, interrupted: the next session completes it (`test_lock_resumed`, never
a second `test_lock_opened`) on the very model files it opened with, checked by
hash; a model file that changed meanwhile refuses it, naming the file. A
session killed after writing the CSV but before recording it is completed from
the CSV, without reading the split again.

Every arm must see the same test examples (the same targets). The built-in
trainer's TorchScript export is checked in the same look: loaded in a fresh
Python process, it predicts the test inputs of the arm it exports (read as the
data loader reads them, before normalization), and Phase 5 compares those
predictions with that arm's `evaluate`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phases.finalization.predictions import (
    META_FILE,
    PREDICTIONS_FILE,
    TestEvaluation,
    read_meta,
    recorded_evaluation,
    write_predictions,
)
from workflow.errors import (
    ConfigError,
    DataError,
    PluginError,
    StateError,
    TestSetLocked,
    WorkFailed,
    WrongState,
)
from workflow.facts import read_facts
from workflow.facts._phase5 import TestLookFact
from workflow.inputs import relative
from workflow.io import atomic_write_json, sha256_file
from workflow.protocol import Evaluation, TrainerProtocol
from workflow.store import Store, now

if TYPE_CHECKING:
    import torch

__all__ = [
    "LOCK",
    "PREDICTIONS_FILE",
    "TestEvaluation",
    "TestSession",
    "check_open",
    "open_test_split",
    "recorded_evaluation",
    "recover_unrecorded",
    "write_predictions",
]

LOCK = "phase5.test_lock"
OPEN_STATE = "optimized"
EVENT_REFUSED = "test_lock_refused"
EVENT_OPENED = "test_lock_opened"
EVENT_RESUMED = "test_lock_resumed"



def check_open(store: Store, *, who: str = "phasegate", purpose: str = "evaluate") -> None:
    """Raise `TestSetLocked` (and log it) unless a look at the test split may open now."""
    state = store.current
    name = store.name
    reason = None
    phase5 = read_facts(store).phase5
    lock = phase5.test_lock
    if phase5.test_evaluations:
        when = lock.evaluated_at if lock else "?"
        digest = lock.sha256[:12] if lock else "?"
        reason = (
            f"the test lock ({LOCK}) is closed: the test split of {name} was evaluated at "
            f"{when} (sha256 {digest} of {PREDICTIONS_FILE}), and it is evaluated once; "
            f"read the saved predictions instead of looking again"
        )
    elif purpose != "recover" and (store.run_dir / PREDICTIONS_FILE).exists():
        reason = (
            f"the test lock ({LOCK}) is closed: {PREDICTIONS_FILE} of {name} exists, so the "
            f"test split was looked at, but the look was not recorded (a command was killed); "
            f"phasegate finalize {name} records it from the file, without a new look"
        )
    elif state != OPEN_STATE:
        reason = (
            f"the test lock ({LOCK}) is closed: {name} is {state}, and the test split opens "
            f"only in Phase 5 (state {OPEN_STATE}, after the final training: "
            f"phasegate finalize {name})"
        )
    elif phase5.final_training_completed is not True:
        reason = (
            f"the test lock ({LOCK}) is closed: the final training of {name} is not recorded "
            f"(phase5.final_training_completed); the test split opens after it "
            f"(phasegate finalize {name})"
        )
    if reason is not None:
        store.append_event(EVENT_REFUSED, {"who": who, "purpose": purpose, "state": state,
                                           "reason": reason})
        raise TestSetLocked(reason)


class TestSession:
    """An open look at the test split; only `open_test_split` makes one."""

    __test__ = False

    def __init__(self, store: Store, look: TestLookFact) -> None:
        self._store = store
        self._look = look
        self._targets: list[Any] | None = None
        self._class_names: list[str] = []
        self._split: dict[str, Any] = {}
        self._inputs: dict[str, torch.Tensor] = {}  # per data-split key: the raw test inputs
        self._arm_inputs: dict[str, str] = {}
        self.predictions: dict[str, list[Any]] = {}
        self._metrics: dict[str, dict[str, float]] = {}  # a user's trainer's own, by arm

    @property
    def targets(self) -> list[Any]:
        if self._targets is None:
            raise WrongState("no arm was evaluated yet: the test targets are not loaded")
        return list(self._targets)

    def evaluate(self, arm: str, run_dir: Path, model_file: Path, trainer: TrainerProtocol
                 ) -> Evaluation:
        """A user's trainer's `evaluate(run_dir, "test")`: the one moment phasegate asks a
        trainer for the test split. `model_file` is the file the look opened on for `arm`."""
        self._new_arm(arm, model_file)
        if trainer.evaluate is None:
            raise TestSetLocked(f"trainer {trainer.spec!r} has no evaluate: the test split "
                                "is never read without one")
        run_dir = Path(run_dir)
        result = trainer.evaluate(run_dir, "test")  # the door, for a trainer of the user's
        if not isinstance(result, Evaluation):
            raise PluginError(f"trainer {trainer.spec!r}: evaluate returned "
                              f"{type(result).__name__}, not a workflow.protocol.Evaluation")
        targets = list(result.targets)
        if self._targets is not None and targets != self._targets:
            raise DataError(f"arm {arm!r} has different test targets ({len(targets)} examples) "
                            "than the arms before it: baseline and final must be compared on "
                            "the same examples")
        self._targets = targets
        self._class_names = [str(c) for c in result.class_names]
        self._metrics[arm] = {k: float(v) for k, v in result.metrics.items()}
        self.predictions[arm] = list(result.predictions)
        return result

    def predict_torchscript(self, arm: str, path: Path, *, like: str) -> list[int]:
        """Predictions of the TorchScript file `path`, loaded in a fresh Python process,
        on the test inputs of arm `like` (a built-in trainer's run, evaluated before)."""
        import torch

        from workflow.trainer.export import load_checkpoint, predict_fresh

        self._new_arm(arm, path)
        if like not in self.predictions:
            raise WrongState(f"arm {like!r} was not evaluated; evaluate it before {arm!r}")
        if like not in self._arm_inputs:  # the inputs its evaluate read, read again here
            saved = load_checkpoint(self._store.run_dir / self._look.models[like]["file"])
            self._arm_inputs[like] = self._test_inputs(saved["config"]["data"], like)[0]
        inputs = self._inputs[self._arm_inputs[like]]
        with tempfile.TemporaryDirectory(prefix=".verify-", dir=path.parent) as tmp:
            tensor = Path(tmp) / "inputs.pt"
            torch.save(inputs, tensor)
            predicted = predict_fresh(path, tensor)  # a process started ahead, if one was
        self._arm_inputs[arm] = self._arm_inputs[like]
        self.predictions[arm] = predicted
        return predicted

    def _new_arm(self, arm: str, path: Path) -> None:
        if not arm.replace("_", "").isalnum() or arm in ("index", "target"):
            raise ConfigError(f"arm names are words (letters, digits, _), but got {arm!r}")
        if arm in self.predictions:
            raise TestSetLocked(f"arm {arm!r} was already evaluated in this look")
        named = self._look.models.get(arm)
        if named is None:
            raise TestSetLocked(
                f"arm {arm!r} was not named when the look opened (it evaluates "
                f"{', '.join(self._look.models) or 'no arm'}); a look evaluates the models it "
                "named, and only those")
        file = relative(self._store.run_dir, path)
        if file != named["file"]:
            raise TestSetLocked(f"arm {arm!r}: the look opened on {named['file']}, not {file}")
        _check_model(self._store, arm, named)

    def _test_inputs(self, config_data: dict[str, Any], arm: str) -> tuple[str, torch.Tensor]:
        from workflow.trainer.builtin import split_key, test_inputs

        key = split_key(config_data)
        if key not in self._inputs:
            test = test_inputs(config_data)  # the door: nowhere else
            if self._targets is not None and test.targets != self._targets:
                raise DataError(
                    f"arm {arm!r} has a different test split ({len(test.targets)} examples, "
                    f"data {key}) than the arms before it: baseline and final must be "
                    "compared on the same examples"
                )
            self._inputs[key] = test.inputs
            self._targets = list(test.targets)
            self._class_names = list(test.class_names)
            self._split = dict(test.split)
        return key, self._inputs[key]

    def _close(self, who: str) -> TestEvaluation:
        if self._targets is None or not self.predictions:
            raise WorkFailed("the test session evaluated no model; nothing is recorded")
        arms = list(self.predictions)
        # the metadata first: a CSV on disk always has its metadata beside it
        atomic_write_json(self._store.run_dir / META_FILE, {
            "arms": arms, "class_names": self._class_names, "split": self._split,
            "metrics": self._metrics})
        write_predictions(self._store.run_dir / PREDICTIONS_FILE, self._targets, self.predictions)
        return _record(self._store, who, arms, self._class_names, self._split, recovered=False)


@contextmanager
def open_test_split(
    store: Store, *, who: str = "phasegate", models: Mapping[str, Path] | None = None
) -> Iterator[TestSession]:
    """Open the one look at the test split on the model files `models` (arm -> file), or
    complete the look that was opened on them and interrupted; record it on exit."""
    with store.lock():
        check_open(store, who=who)
        look = _opened(store)
        if look is None:
            look = TestLookFact(opened_at=now(), by=who, models=_hashed(store, models or {}))
            # recorded before the split is read: from here on, this is the one look
            store.record("phase5", {"test_look": look.model_dump()}, who=who)
            store.append_event(EVENT_OPENED, {"who": who, "models": look.models})
        else:
            _same_models(store, look, models or {}, who=who)
            store.append_event(EVENT_RESUMED, {"who": who, "opened_at": look.opened_at,
                                               "models": look.models})
        session = TestSession(store, look)
        try:
            yield session
        except BaseException as exc:
            store.append_event("test_lock_aborted", {"who": who, "error": repr(exc)[:300]})
            raise
        session._close(who)


def _opened(store: Store) -> TestLookFact | None:
    """The look that opened and was not recorded, if one did (see the module docstring)."""
    look = read_facts(store).phase5.test_look
    if look is not None:
        return look
    # a look opened by a version that logged the opening only: it is the one look too,
    # completed on the models named now (their hashes are recorded from here on)
    if any(e.get("event") == EVENT_OPENED for e in store.events()):
        return TestLookFact(opened_at="before this version recorded openings", by="unknown",
                            models={})
    return None


def _hashed(store: Store, models: Mapping[str, Path]) -> dict[str, dict[str, str]]:
    named = {}
    for arm, path in models.items():
        if not Path(path).is_file():
            raise StateError(f"{path}: the model file of arm {arm!r} is missing; the test "
                             "split does not open on a model that does not exist")
        named[arm] = {"file": relative(store.run_dir, path), "sha256": sha256_file(path)}
    return named


def _same_models(
    store: Store, look: TestLookFact, models: Mapping[str, Path], *, who: str
) -> None:
    """An interrupted look is completed only on the files it opened with (refused otherwise)."""
    if not look.models:  # opened before openings were recorded: bind it to these files now
        look = look.model_copy(update={"models": _hashed(store, models)})
        store.record("phase5", {"test_look": look.model_dump()}, who=who)
        return
    asked = {arm: relative(store.run_dir, path) for arm, path in models.items()}
    opened = {arm: named["file"] for arm, named in look.models.items()}
    if asked != opened:
        _refuse(store, who, f"the test look of {store.name} opened at {look.opened_at} on "
                f"{opened} and was interrupted; it is completed on those files only, not on "
                f"{asked}")
    for arm, named in look.models.items():
        _check_model(store, arm, named, who=who, opened_at=look.opened_at)


def _check_model(
    store: Store, arm: str, named: Mapping[str, str], *, who: str = "phasegate",
    opened_at: str = "",
) -> None:
    path = store.run_dir / named["file"]
    digest = sha256_file(path) if path.is_file() else None
    if digest == named["sha256"]:
        return
    what = "is missing" if digest is None else (
        f"changed (sha256 {named['sha256'][:12]} -> {digest[:12]})")
    when = f" at {opened_at}" if opened_at else ""
    _refuse(store, who, f"the test look of {store.name} opened{when} on {path} (arm {arm!r}), "
            f"which {what} since; the look is completed on the model it opened with and "
            "never taken again on another: restore that file")


def _refuse(store: Store, who: str, reason: str) -> None:
    reason = f"the test lock ({LOCK}) is closed: {reason}"
    store.append_event(EVENT_REFUSED, {"who": who, "purpose": "evaluate",
                                       "state": store.current, "reason": reason})
    raise TestSetLocked(reason)


def recover_unrecorded(store: Store, *, who: str = "phasegate") -> TestEvaluation | None:
    """A look whose CSV was written but not recorded (killed in between): record it from the CSV.

    Returns None when there is no such CSV. The test split is not read again.
    """
    path = store.run_dir / PREDICTIONS_FILE
    if read_facts(store).phase5.test_evaluations or not path.is_file():
        return None
    with store.lock():
        check_open(store, who=who, purpose="recover")
        meta = read_meta(path)
        _record(store, who, meta["arms"], meta["class_names"], meta["split"], recovered=True)
    return recorded_evaluation(store)


def _record(
    store: Store,
    who: str,
    arms: list[str],
    class_names: list[str],
    split: dict[str, Any],
    *,
    recovered: bool,
) -> TestEvaluation:
    path = store.run_dir / PREDICTIONS_FILE
    digest = sha256_file(path)
    lock = {
        "evaluated_at": now(),
        "by": who,
        "arms": arms,
        "file": PREDICTIONS_FILE,
        "sha256": digest,
        "class_names": class_names,
        "split": split,
        "recovered_from_file": recovered,
    }
    # the lock record goes in before the count: a kill between them leaves the count unset,
    # and the next attempt finds the CSV and completes the record without a new look
    store.record("phase5", {"test_lock": lock})
    store.record("phase5", {"test_evaluations": 1})
    store.append_event("test_evaluated", {"who": who, "arms": arms, "sha256": digest,
                                          "file": PREDICTIONS_FILE, "recovered": recovered})
    evaluation = recorded_evaluation(store)
    assert evaluation is not None
    return evaluation
