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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veil")
def cli():
    """veil: every real sensor reading published among keyed fakes.

    Owners keep the home key and de-mix their real data; platforms store only the disguised
    feed. Start with `veil demo`.
    """


for command in (
    owner.keygen,
    owner.provision,
    owner.fetch,
    owner.decode,
    maker.up,
    maker.ports,
    maker.boards,
    maker.flash,
    maker.deploy,
    maker.monitor,
    platform.ingest,
    platform.broker,
    platform.cse,
    privacy.profile,
    privacy.audit,
    sim.sim,
    sim.demo,
):
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
