"""The `veil` command: a thin shell over the library. Every command parses its options, calls
one library function and prints the result; the commands are grouped by who runs them (owner,
maker, platform, privacy, sim). Every expected failure is a VeilError, caught once in `main()`
and shown as one line with a non-zero exit code."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import VeilError
from . import maker, owner, platform, privacy, sim
from .options import examples

# `veil --help` lists the commands by who runs them, in the order they are used.
ROLES = {
    "Start here": (sim.demo, maker.up),
    "Owner (holds the home key)": (
        owner.keygen,
        owner.provision,
        owner.fetch,
        owner.decode,
        privacy.profile,
        privacy.audit,
        sim.sim,
    ),
    "Maker (boards on USB)": (maker.ports, maker.boards, maker.flash, maker.deploy, maker.monitor),
    "Platform (no key)": (platform.ingest, platform.broker, platform.cse),
}


class RoleGroup(click.Group):
    """A group whose help lists its commands by role instead of alphabetically."""

    def list_commands(self, ctx):
        return [c.name for commands in ROLES.values() for c in commands if c.name in self.commands]

    def format_commands(self, ctx, formatter):
        for role, commands in ROLES.items():
            rows = [(c.name, c.get_short_help_str(limit=200)) for c in commands]
            with formatter.section(role):
                formatter.write_dl(rows)


@click.group(
    cls=RoleGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples("veil demo", "veil up auto --board esp32-devkitc --device kitchen"),
)
@click.version_option(__version__, prog_name="veil")
def cli():
    """veil: every real sensor reading published among keyed fakes.

    Owners keep the home key and de-mix their real data; platforms store only the disguised
    feed. Start with `veil demo`; `veil COMMAND --help` tells more, with examples.
    """


for commands in ROLES.values():
    for command in commands:
        if command.name not in cli.commands:
            cli.add_command(command)


def main() -> None:
    try:
        cli.main(prog_name="veil", standalone_mode=False)
    except VeilError as e:
        click.echo(f"veil: error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("veil: aborted", err=True)
        sys.exit(130)
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "veil"
        message = e.format_message().rstrip(".")
        click.echo(f"veil: error: {message} (see `{where} --help`)", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
