"""Help and README: `veil --help` lists the commands by role, every command's help ends with
examples, and every `veil` command the README and the examples show parses as written (the
README's blocks are also valid shell)."""

from __future__ import annotations

import re
import shlex
import subprocess
import warnings

import click
import pytest
from click.testing import CliRunner

from veil.cli import ROLES, cli

from conftest import REPO

README = (REPO / "README.md").read_text()


def commands(group=cli, path=()):
    """(path, command) of every command, sub-commands of groups included."""
    for name in group.list_commands(None):
        cmd = group.commands[name]
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*path, name))


def parses(argv: list[str]) -> None:
    """Parse `veil ARGV` as the CLI would (options checked, callbacks run), without running."""
    with warnings.catch_warnings():  # protected_args: what a group leaves to its command
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = cli.make_context("veil", list(argv))
        group, rest = cli, ctx.protected_args + ctx.args
        while isinstance(group, click.Group):
            name, cmd, rest = group.resolve_command(ctx, rest)
            ctx = cmd.make_context(name, rest, parent=ctx)
            group = cmd
            rest = ctx.protected_args + ctx.args if isinstance(cmd, click.Group) else []


def readme_commands() -> list[str]:
    """Every `veil …` line of the README's sh blocks, continuations joined, variables set in
    the README expanded, comments and background markers dropped."""
    found, env = [], {}
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if m := re.fullmatch(r'(\w+)=(?:"([^"]*)"|(\S+))', line.strip()):
                env[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
                continue
            line = re.sub(r"\s+#.*$", "", line)
            line = re.sub(r"\s*&(\s*\w+=\$!)?\s*$", "", line)
            for part in re.split(r"\s*&&\s*", line):
                if part.startswith("veil "):
                    for name, value in env.items():
                        part = part.replace(f"${name}", value)
                    found.append(part)
    return found


def test_top_help_groups_the_commands_by_role():
    out = CliRunner().invoke(cli, ["--help"], terminal_width=80).output
    sections = [line[:-1] for line in out.splitlines() if line.endswith(":") and line[0] != " "]
    assert sections == ["Options", *ROLES]
    assert "..." not in out.split("Start here:")[1]  # no description is cut off
    listed = {c.name for cs in ROLES.values() for c in cs}
    assert listed == set(cli.commands)


@pytest.mark.parametrize(
    "path, cmd", list(commands()), ids=lambda x: " ".join(x) if isinstance(x, tuple) else ""
)
def test_every_help_ends_with_examples_that_parse(path, cmd):
    out = CliRunner().invoke(cli, [*path, "--help"], terminal_width=100).output
    tail = out.rstrip().split("\n\n")[-1].splitlines()
    assert tail[0].strip() == "Examples:", out
    for example in tail[1:]:
        argv = shlex.split(example.strip())
        assert argv[0] == "veil" and argv[1 : 1 + len(path)] == list(path)
        parses(argv[1:])


def test_readme_blocks_are_shell_and_every_veil_command_parses():
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        subprocess.run(["bash", "-n"], input=block, text=True, check=True)
    found = readme_commands()
    assert len(found) > 20
    for line in found:
        parses(shlex.split(line)[1:])


def test_readme_recipes_give_their_channels():
    """The MQTT and oneM2M recipes publish sensors only, not the occupancy label."""
    for line in readme_commands():
        if line.startswith("veil sim "):
            assert "--channel" in line, line
