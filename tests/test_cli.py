"""The CLI as a whole: every command documents itself with an example."""

from __future__ import annotations

import argparse

import pytest

from workflow.cli import build_parser, commands


def all_commands() -> dict[str, argparse.ArgumentParser]:
    """Every verb and sub-verb, by its full name ('gate check')."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}"] = sub
                    walk(sub, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


def test_the_expected_commands_exist() -> None:
    # the verbs of the design, and reopen (issue 15), are all registered, and nothing else
    assert sorted(name for name, _ in commands(build_parser())) == sorted([
        "init", "run", "train", "baseline", "diagnose", "optimize", "finalize", "promote",
        "status", "gate check", "gate sign", "advance", "reopen", "sweep worker",
    ])


@pytest.mark.parametrize("command", sorted(name for name, _ in commands(build_parser())))
def test_every_command_takes_json(command: str) -> None:
    # --json is on every command that runs (workflow.cli.build_parser adds it where missing)
    parser = dict(commands(build_parser()))[command]
    assert any("--json" in action.option_strings for action in parser._actions)


@pytest.mark.parametrize("command", sorted(all_commands()))
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `phasegate <command> --help` exits 0 and shows a worked example of the command
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command.split(), "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert f"phasegate {command}" in out.split("example:")[1]
