"""What ``hub --help`` and each command's help show: whole first sentences, and every sandbox with its port."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

import cli
from hub.testing.sandboxes import available_sandboxes


def _groups(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Group]]:
    found = [(path, group)]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _groups(command, (*path, name))
    return found


GROUPS = _groups(cli.main)


@pytest.mark.parametrize(("path", "group"), GROUPS, ids=[" ".join(path) or "hub" for path, _ in GROUPS])
def test_each_command_is_listed_with_the_whole_first_sentence_of_its_help(path: tuple[str, ...],
                                                                           group: click.Group) -> None:
    shown = CliRunner().invoke(cli.main, [*path, "--help"], terminal_width=80)
    assert shown.exit_code == 0, shown.output
    listing = " ".join(shown.output.split("Commands:", 1)[1].split())
    for name, command in group.commands.items():
        first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
        sentence = re.match(r".*?\.(?=\s|$)", first_paragraph)
        assert sentence is not None, f"{name}: its help has no sentence"
        assert f"{name} {sentence.group(0)}" in listing, f"{name}'s line is not its whole first sentence"
    assert "..." not in listing


def test_sandbox_help_lists_every_sandbox_with_its_fixed_port() -> None:
    shown = CliRunner().invoke(cli.main, ["sandbox", "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    sandboxes = available_sandboxes()
    assert {"onec_odata", "testchannel", "yandex_eda", "iiko"} <= set(sandboxes)
    for name, sandbox in sandboxes.items():
        assert re.search(rf"^\s+{name}\s+127\.0\.0\.1:{sandbox.port}\s+\S", shown.output, re.M), name
    assert "``" not in shown.output
