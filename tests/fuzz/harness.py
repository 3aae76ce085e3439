"""Running one fuzz case and judging what it did: the exit code, the output, what it left.

A case is a folder of files (some of them FIFOs, links to devices or to
nowhere) and one command. Most run in this process, through the CLI's
`main(argv)` or the validation function the command would call, under a timer;
a case that could block the whole process (a FIFO) runs in a child process with
a timeout. Either way the outcome is one of

    ok (exit 0) | refused (exit 1) | bad_input (exit 2) | traceback | hang

and `problems(case, outcome)` lists what is wrong with it: an exit code the
command does not document for this input, a traceback, a hang, more than one
line of error, or a file left behind (a half-written run, a temporary file).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIFO = object()  # a file content: make a FIFO there
DIR = object()  # a file content: make an empty folder there


@dataclass(frozen=True)
class Link:
    """A file content: a symbolic link to `target` (absolute, or relative to the case folder)."""

    target: str


@dataclass(frozen=True)
class Case:
    """One input and the command run on it.

    `argv` and the file contents may say `{d}`, the case's folder. `run` is
    "cli" (`main(argv)`) or the name of a function in `tests.fuzz.harness.CALLS`.
    `expect` holds the exit codes the command documents for this input.
    `absent` are paths (under the case folder) that must not exist after bad input
    (exit 2): a command refused for its input leaves nothing half-made. `late` are files made
    after the setup commands ran (a checklist edited after `init`).
    """

    name: str
    kind: str  # train | project | checklist | space | plugin | template
    files: dict[str, Any]
    argv: tuple[str, ...]
    expect: frozenset[int]
    run: str = "cli"
    setup: tuple[tuple[str, ...], ...] = ()
    late: dict[str, Any] = field(default_factory=dict)
    spawn: bool = False
    absent: tuple[str, ...] = ()
    note: str = ""


@dataclass
class Outcome:
    code: int | None  # None: a traceback or a hang
    kind: str  # ok | refused | bad_input | traceback | hang | exit-<n>
    output: str = ""
    error: str = ""
    seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)


class _Timeout(BaseException):
    """Raised by the timer inside a case; a BaseException, so no `except Exception` hides it."""


def materialize(files: dict[str, Any], folder: Path) -> None:
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FIFO:
            os.mkfifo(path)
        elif content is DIR:
            path.mkdir(exist_ok=True)
        elif isinstance(content, Link):
            path.symlink_to(content.target.format(d=folder))
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(str(content).replace("{d}", str(folder)))


def run_case(case: Case, folder: Path, *, timeout: float = 30.0) -> Outcome:
    """Make the case's files under `folder`, run its setup and command, and judge the result."""
    materialize(case.files, folder)
    for argv in case.setup:
        done = _in_process("cli", _fill(argv, folder), timeout)
        if done.code != 0:
            done.kind = f"setup-{done.kind}"
            return done
    materialize(case.late, folder)
    argv = _fill(case.argv, folder)
    outcome = (_spawned(argv, folder, timeout) if case.spawn
               else _in_process(case.run, argv, timeout))
    outcome.leftovers = _leftovers(case, folder, failed=outcome.code == 2)
    return outcome


def _fill(argv: tuple[str, ...], folder: Path) -> tuple[str, ...]:
    return tuple(a.replace("{d}", str(folder)) for a in argv)


def _kind(code: int) -> str:
    return {0: "ok", 1: "refused", 2: "bad_input"}.get(code, f"exit-{code}")


@contextlib.contextmanager
def _timer(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_process(run: str, argv: tuple[str, ...], timeout: float) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code: int | None
    try:
        with _timer(timeout), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = CALLS[run](argv)
        kind = _kind(code)
    except _Timeout:
        code, kind = None, "hang"
    except SystemExit as exc:  # argparse's usage errors: exit 2 with its usage line
        code = exc.code if isinstance(exc.code, int) else 2
        kind = _kind(code)
    except BaseException as exc:  # what the CLI would have shown as a traceback
        import traceback

        code, kind = None, "traceback"
        err.write("".join(traceback.format_exception(exc)))
    return Outcome(code, kind, out.getvalue(), err.getvalue(), time.perf_counter() - started)


def _spawned(argv: tuple[str, ...], folder: Path, timeout: float) -> Outcome:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "workflow", *argv], cwd=folder, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        return Outcome(None, "hang", out, err, time.perf_counter() - started)
    kind = "traceback" if "Traceback (most recent call last)" in err else _kind(child.returncode)
    code = None if kind == "traceback" else child.returncode
    return Outcome(code, kind, out, err, time.perf_counter() - started)


# what a hostile input asks to be run writes this file: it must never appear
MARKER = "pwned"


def _leftovers(case: Case, folder: Path, *, failed: bool) -> list[str]:
    found = [rel for rel in case.absent if failed and os.path.lexists(folder / rel)]
    if (folder / MARKER).exists():
        found.append(f"{MARKER} (a command the input named was run)")
    for path in folder.rglob("*"):
        name = path.name
        if (name.startswith(".") and name.endswith(".tmp")) or name.endswith(".partial"):
            found.append(str(path.relative_to(folder)))
    return found


def problems(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with `outcome` for `case`, in words; [] when nothing is."""
    found: list[str] = []
    if outcome.kind == "hang":
        found.append("hung (killed at the timeout)")
    elif outcome.kind == "traceback" or "Traceback (most recent call last)" in outcome.error:
        last = outcome.error.strip().splitlines()[-1:] or ["?"]
        found.append(f"traceback: {last[0]}")
    elif outcome.kind.startswith("setup-"):
        found.append(f"its setup failed ({outcome.kind}): {_last_line(outcome.error)}")
    elif outcome.code not in case.expect:
        found.append(f"exit {outcome.code}, expected {sorted(case.expect)}: "
                     f"{_last_line(outcome.error) or _last_line(outcome.output)}")
    elif outcome.code == 2:
        # bad input is one line: "phasegate: <file>: <field>: <what is allowed>" (or argparse's
        # usage error), never a message a newline from the input split in two
        lines = [line for line in outcome.error.strip().splitlines() if line.strip()]
        said = [line for line in lines if line.startswith("phasegate: ") or "error:" in line]
        if len(said) != 1 or said[-1] != lines[-1]:
            found.append(f"exit 2 without one line of reason: {lines[-2:]!r}")
    if outcome.leftovers:
        found.append(f"left behind: {', '.join(sorted(outcome.leftovers)[:5])}")
    return found


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- what a case may run besides the CLI: the validation a command would call ------------------


def _space(argv: tuple[str, ...]) -> int:
    """`optimize --space FILE` up to its first trial: load, check against the base, grid, ask.

    The base config is argv[1]; three trials are asked of a random sampler, as a worker would.
    """
    import optuna

    from phases.optimization.sweep.space import load_space
    from workflow.errors import WorkflowError
    from workflow.trainer.config import load_train_config

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        space = load_space(argv[0])
        base = load_train_config(argv[1])
        space.check_config(base)
        space.grid()
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(3):
            trial = study.ask()
            base.with_changes(space.suggest(trial), source="trial")
            study.tell(trial, 0.0)
    except WorkflowError as exc:
        print(f"phasegate: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def _train(argv: tuple[str, ...]) -> int:
    """What `phasegate train CONFIG --out DIR` runs, stopped after its first epoch.

    A valid config of 10,000 epochs is as valid as one of 1: the first epoch goes
    through everything a bad setting could break (data, model, optimizer,
    schedule, augmentations, a step, evaluation, the run folder).
    """
    from workflow.errors import WorkflowError
    from workflow.trainer import fit
    from workflow.trainer.config import load_train_config
    from workflow.trainer.result import RunStatus

    seen = {"epochs": 0}

    def report(epoch: int, row: dict[str, float]) -> None:
        seen["epochs"] = epoch

    def should_stop() -> str | None:
        return "the fuzzer stops after one epoch" if seen["epochs"] >= 1 else None

    try:
        config = load_train_config(argv[0])
        result = fit(config, config.seed, argv[1], report=report, should_stop=should_stop)
    except WorkflowError as exc:
        print(f"phasegate: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # as the CLI's main: a path the user gave that cannot be used
        print(f"phasegate: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if result.status is RunStatus.DIVERGED:
        print(f"phasegate: run diverged: {result.stop_reason}", file=sys.stderr)
        return 1
    return 0


def _cli(argv: tuple[str, ...]) -> int:
    from workflow.cli import main

    return main(list(argv))


CALLS: dict[str, Callable[[tuple[str, ...]], int]] = {
    "cli": _cli,
    "space": _space,
    "train": _train,
}
