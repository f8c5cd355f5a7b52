"""Every command and every option of the `campaigner` CLI explains itself in `--help`."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from campaigner.cli import main


def commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command's path, as the CLI finds them (its commands are imported when asked for)."""
    yield path
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            yield from commands(command_at((*path, name)), (*path, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command | None = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
    assert command is not None, path
    return command


ALL_COMMANDS = list(commands(main))


def test_the_tree_is_walked() -> None:
    assert ("campaign", "preview") in ALL_COMMANDS
    assert ("suppress", "import") in ALL_COMMANDS
    assert ("db", "upgrade") in ALL_COMMANDS


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(("campaigner", *path)))
def test_command_has_help(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert (command.help or "").strip(), "the command has no help text (its docstring)"
    undocumented = [
        parameter.opts[0]
        for parameter in command.params
        if isinstance(parameter, click.Option) and not (parameter.help or "").strip()
    ]
    assert undocumented == [], "options without help"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
