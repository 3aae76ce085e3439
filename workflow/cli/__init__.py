"""The `phasegate` command: a thin layer over the library.

Each verb lives in its own module here and registers itself with `register`.
Modules must not import torch at import time: `status` and `gate` start fast.
The library raises `WorkflowError`s; `main` catches the root once, prints one
line and exits with the error's code (an `OSError` on a path the user gave is
bad input, exit 2). Tracebacks only with `--debug`.

Every command takes `--json`: stdout then holds one JSON document and nothing
else (progress and notes go to stderr, always), and an error is the object
`{"error": message, "exit_code": N}` on stdout. Exit codes: workflow.errors
(`EXIT_CODES`). A reader that goes away (`| head`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from workflow import __version__
from workflow.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    UsageError,
    WorkflowError,
)

# one module per verb (or family of verbs); each defines register(subparsers)
COMMAND_MODULES: tuple[str, ...] = (
    "workflow.cli.train",
    "workflow.cli.engine",
    "workflow.cli.phase3",
    "workflow.cli.phase4",
    "workflow.cli.sweep",
    "workflow.cli.phase5",
)


# a reader that closed the pipe: the exit status a process killed by SIGPIPE has
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is a `UsageError` (exit 2, JSON under --json)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="phasegate",
        description="Phase-gated optimization of PyTorch models: "
        "diagnose, optimize with statistics, finalize behind gates.",
        epilog="example:\n  phasegate run configs/quickstart.yaml --sign-off \"$(whoami)\"",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"phasegate {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for _, command in commands(parser):
        if not any("--json" in a.option_strings for a in command._actions):
            command.add_argument("--json", action="store_true",
                                 help="print one JSON document on stdout (errors too)")
    return parser


def commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that runs (a leaf of the verb tree), by its full name ('gate check')."""

    def walk(node: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, Any]]:
        subs = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and prefix:
            yield prefix.strip(), node
        for action in subs:
            for name, sub in action.choices.items():
                yield from walk(sub, f"{prefix}{name} ")

    yield from walk(parser, "")


def positive_int(text: str) -> int:
    """An argparse type: a count of at least 1 (`--workers 0` is an error, not 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, but got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, but got {value}")
    return value


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="worker processes, at least 1 (default: the project file's, else "
                             "$PHASEGATE_WORKERS, else up to 4)")


def print_json(data: Any) -> None:
    """The one JSON document of a `--json` command, on stdout."""
    print(json.dumps(data, indent=2, default=str))


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    example: str,
) -> argparse.ArgumentParser:
    """Add a verb whose --help ends with a worked example (every verb has one)."""
    return subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def whoami(given: str | None = None) -> str:
    """Who a command acts for in the event log: `given`, else the login name."""
    if given:
        return given
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        _from_project(args)
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        # the reader went away (`phasegate status x | head`): nothing to say, and nobody to
        # say it to; stdout is pointed at /dev/null so the interpreter's flush stays quiet
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except WorkflowError as exc:
        if debug:
            raise
        return _fail(str(exc), exc.exit_code, as_json)
    except OSError as exc:
        # a path the user gave that cannot be written or read (--out inside a file, --runs
        # on a read-only disk): one line naming it, as for any other bad input
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", EXIT_BAD_INPUT, as_json)
    except KeyboardInterrupt:
        return _fail("interrupted; run the command again to resume", EXIT_INTERRUPTED, as_json)


def _from_project(args: argparse.Namespace) -> None:
    """A command on an existing project (`baseline NAME`, `finalize NAME`) can import the
    plug-ins beside its project file, as the command that created it could, and its workers
    take the GPUs the project lists."""
    name = getattr(args, "name", None)
    if not isinstance(name, str) or getattr(args, "command", None) == "init":
        return
    from workflow.plugins import importable_from
    from workflow.pool import use_devices
    from workflow.store import Store

    try:
        store = Store.open(name, getattr(args, "runs", None))
        folder = store.project_dir
        devices = store.project.devices
    except (WorkflowError, OSError):
        return  # no such project yet: the command itself says so
    importable_from(folder)
    use_devices(devices)


def _fail(message: str, code: int, as_json: bool) -> int:
    """Say why the command failed: one line on stderr, or the JSON error object on stdout."""
    try:
        if as_json:
            print_json({"error": message, "exit_code": code})
        else:
            print(f"phasegate: {message}", file=sys.stderr)
    except BrokenPipeError:
        _silence_stdout()
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass

