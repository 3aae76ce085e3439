"""The `phasegate` command: a thin layer over the library.

Each verb lives in its own module here and registers itself with `register`.
Modules must not import torch at import time: `status` and `gate` start fast.
The library raises `WorkflowError`s; `main` catches the root once, prints one
line and exits with the error's code (an `OSError` on a path the user gave is
bad input, exit 2). Tracebacks only with `--debug`.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from collections.abc import Sequence

from workflow import __version__
from workflow.errors import EXIT_BAD_INPUT, WorkflowError

# one module per verb (or family of verbs); each defines register(subparsers)
COMMAND_MODULES: tuple[str, ...] = (
    "workflow.cli.train",
    "workflow.cli.engine",
    "workflow.cli.phase3",
    "workflow.cli.phase4",
    "workflow.cli.sweep",
    "workflow.cli.phase5",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phasegate",
        description="Phase-gated optimization of PyTorch models: "
        "diagnose, optimize with statistics, finalize behind gates.",
        epilog="example:\n  phasegate run configs/quickstart.yaml --sign-off \"$(whoami)\"",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"phasegate {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except WorkflowError as exc:
        if args.debug:
            raise
        print(f"phasegate: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # a path the user gave that cannot be written or read (--out inside a file, --runs
        # on a read-only disk): one line naming it, as for any other bad input
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"phasegate: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("phasegate: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)

