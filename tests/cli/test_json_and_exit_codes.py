"""Scripting the CLI: `--json` on every command, one exit code per meaning, quiet pipes.

| code | meaning |
|---|---|
| 0 | done |
| 1 | refused (a gate, a decision, or a command that does not apply now) |
| 2 | bad input |
| 3 | busy: another command holds the project's lock |
| 130 | interrupted |
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CLI
from tests.conftest import hold_lock
from workflow.cli import build_parser, commands
from workflow.errors import EXIT_CODES
from workflow.store import Store

ROOT = Path(__file__).resolve().parents[2]

# one cheap invocation of every command, in an order that needs no other setup than `home`;
# a command that would train for long is run where it refuses or fails on bad input
EVERY_COMMAND: dict[str, list[str]] = {
    "init": ["init", "demo", "--config", "proj/project.yaml"],
    "status": ["status", "demo"],
    "gate check": ["gate", "check", "demo", "diagnostics_complete"],
    "gate sign": ["gate", "sign", "demo", "finalization_complete", "model_card_reviewed",
                  "--by", "alice"],
    "advance": ["advance", "demo"],
    "reopen": ["reopen", "demo", "--phase", "4"],
    "train": ["train", "proj/baseline.yaml", "--out", "one-run"],
    "baseline": ["baseline", "demo"],
    "diagnose": ["diagnose", "demo"],
    "optimize": ["optimize", "demo", "--strategy", "targeted", "--trials", "3"],
    "finalize": ["finalize", "demo"],
    "promote": ["promote", "demo"],
    "run": ["run", "proj/missing.yaml"],
    "sweep worker": ["sweep", "worker", "--storage", "no-such.journal", "--study", "nothing"],
}


# rule (acceptance): every command of the registry takes --json, and its stdout is one JSON
# document that json.loads reads (progress goes to stderr); a failure is the object
# {"error": message, "exit_code": N} with N the command's exit code
def test_every_command_answers_json(home: Path, cli: CLI) -> None:
    registry = sorted(name for name, _ in commands(build_parser()))
    assert sorted(EVERY_COMMAND) == registry
    codes = {}
    for name, argv in EVERY_COMMAND.items():
        code, out, err = cli(*argv, "--json")
        try:
            answer = json.loads(out)
        except json.JSONDecodeError:
            pytest.fail(f"phasegate {name} --json printed no JSON on stdout: {out!r} {err!r}")
        assert isinstance(answer, dict), name
        if "error" in answer:
            assert set(answer) == {"error", "exit_code"} and answer["exit_code"] == code, name
            assert code != 0, name
        codes[name] = code
    assert codes["init"] == codes["status"] == codes["train"] == codes["baseline"] == 0
    assert codes["diagnose"] == 0
    assert codes["gate check"] == codes["gate sign"] == codes["reopen"] == 1
    assert codes["optimize"] == 2  # --trials applies to a sweep: bad input
    assert codes["run"] == 2


# rule: a usage error (argparse's) under --json is the JSON error object too, exit 2
def test_usage_errors_are_json_too(home: Path, cli: CLI) -> None:
    code, out, _ = cli("status", "--json")
    assert code == 2 and json.loads(out)["exit_code"] == 2
    code, out, err = cli("status")
    assert code == 2 and out == "" and "the following arguments are required: name" in err


# rule: every exit code has one meaning, written down once (the README's table)
def test_exit_codes_are_documented() -> None:
    assert sorted(EXIT_CODES) == [0, 1, 2, 3, 130]


# rule (acceptance): a project locked by another command is busy: exit 3, not 2 (bad input)
def test_busy_is_its_own_exit_code(home: Path, cli: CLI) -> None:
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    child = hold_lock(home / "runs" / "demo")
    try:
        code, out, _ = cli("advance", "demo", "--json")
        assert code == 3
        error = json.loads(out)
        assert error["exit_code"] == 3 and f"locked by pid {child.pid}" in error["error"]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


# rule (acceptance): the project is positional on `gate` as everywhere; --project is kept as
# an alias; the wrong number of names is bad input
def test_gate_takes_the_project_positionally(home: Path, cli: CLI) -> None:
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    positional = cli("gate", "check", "demo", "diagnostics_complete", "--json")
    alias = cli("gate", "check", "diagnostics_complete", "--project", "demo", "--json")
    assert positional[0] == alias[0] == 1
    first, second = json.loads(positional[1]), json.loads(alias[1])
    assert first["project"] == second["project"] == "demo"
    assert [i["id"] for i in first["items"]] == [i["id"] for i in second["items"]]
    code, _, err = cli("gate", "check", "diagnostics_complete")
    assert code == 2 and "expected PROJECT GATE" in err
    code, _, err = cli("gate", "sign", "demo", "finalization_complete", "--by", "a")
    assert code == 2 and "expected PROJECT GATE ITEM" in err


# rule: a worker count below 1 is bad input (exit 2), never quietly turned into 1
@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_bad_worker_counts_are_errors(home: Path, cli: CLI, workers: str) -> None:
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    for argv in (["baseline", "demo"], ["optimize", "demo"], ["finalize", "demo"],
                 ["run", "proj/project.yaml"]):
        code, _, err = cli(*argv, "--workers", workers)
        assert code == 2 and "--workers" in err, argv
    assert Store.open("demo", home / "runs").current == "baseline"


# rule: a reader that goes away (`phasegate status x | head`) ends the command quietly: no
# "Broken pipe" line, no traceback
def test_a_closed_pipe_is_quiet(home: Path, cli: CLI) -> None:
    assert cli("init", "demo", "--config", "proj/project.yaml")[0] == 0
    child = subprocess.Popen(
        [sys.executable, "-m", "workflow", "status", "demo"], cwd=home,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the command writes its first line
    err = child.stderr.read().decode()
    child.wait(timeout=60)
    assert err == ""
    assert child.returncode == 141
