"""The CLI as a whole: every command documents itself with an example."""

from __future__ import annotations

import argparse

import pytest

from workflow.cli import build_parser


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
    # the verbs of the design that exist so far are all registered
    assert "train" in all_commands()


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
