"""Commands for real boards: list board files, flash MicroPython, deploy the firmware, watch
the log and fetch the spooled feed. Each is a thin shell over its library module."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from .clikit import home_option
from .errors import VeilError

port_argument = click.argument("port")
board_option = click.option(
    "--board",
    "board_name",
    metavar="NAME|FILE.toml",
    help="board definition (see `veil boards`)",
)


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


@click.command()
def boards():
    """List the board definitions (boards/*.toml) and their default sensors."""
    from . import boards as defs

    for name in defs.known():
        b = defs.load(name)
        where = (
            f"{b.chip}, {b.flash_size} flash, image at {b.image_offset:#x}"
            if b.flashable
            else b.chip
        )
        sensors = ", ".join(
            f"{s.type}({'/'.join(s.channel_names())})" if s.keys else s.type for s in b.sensors
        )
        click.echo(f"{name:16} {b.description}")
        click.echo(f"{'':16} {where}; sensors: {sensors}")


@click.command()
@port_argument
@click.option("--board", "board_name", required=True, metavar="NAME|FILE.toml", help="board")
@click.option(
    "--image",
    type=click.Path(dir_okay=False, path_type=Path),
    help="MicroPython .bin to write (default: newest in the cache, else downloaded)",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="folder of MicroPython images (default: $VEIL_CACHE or ~/.cache/veil/micropython)",
)
@click.option(
    "--download/--no-download",
    default=True,
    show_default=True,
    help="fetch the official image from micropython.org when none is cached",
)
@click.option("--baud", type=click.IntRange(9600), help="serial speed (default: the board's)")
@click.option(
    "--no-reset",
    is_flag=True,
    help="the board is already in its bootloader (held BOOT while pressing EN): do not reset it",
)
def flash(port, board_name, image, cache, download, baud, no_reset):
    """Erase the board on PORT and write MicroPython to it (checks the chip first)."""
    from . import boards as defs
    from .flash import cache_dir, find_image
    from .flash import flash as do_flash

    board = defs.load(board_name)
    page = os.environ.get("VEIL_MICROPYTHON_URL")
    args = {"page": page} if page else {}
    img = find_image(board, image, cache or cache_dir(), download, **args)
    chip = do_flash(board, port, img, baud=baud, reset=not no_reset, out=_echo_err)
    click.echo(f"flashed MicroPython to the {chip} on {port}; next: veil deploy {port}")


@click.command()
@port_argument
@board_option
def deploy(port, board_name):
    """Compile the firmware to .mpy and copy what changed to the board on PORT, then verify."""
    from . import boards as defs
    from .board import Board
    from .deploy import build, check_machine
    from .deploy import deploy as do_deploy
    from .ports import check_port

    check_port(port)
    board = Board(port)
    if board_name:
        check_machine(board, defs.load(board_name))
    with tempfile.TemporaryDirectory(prefix="veil-bundle-") as tmp:
        bundle = build(Path(tmp))
        res = do_deploy(board, bundle)
    click.echo(
        f"deployed to {port}: {res.bundle_files} files, bundle {res.bundle_bytes} bytes "
        f"(.mpy; source {res.source_bytes} bytes); {len(res.copied)} copied, "
        f"{len(res.removed)} removed, verified"
    )


@click.command()
@port_argument
@home_option
@click.option("--reset", is_flag=True, help="restart the board first, to see it boot")
@click.option("--duration", type=click.FloatRange(min=0), help="stop after this many seconds")
@click.option(
    "--until",
    metavar="REGEX",
    help="stop at the first line matching REGEX (exit 1 if --duration passes without it)",
)
def monitor(port, home_dir, reset, duration, until):
    """Show the log of the board on PORT, live, with secrets masked (Ctrl-C to stop)."""
    from .home import Home
    from .masking import Masker
    from .monitor import monitor as do_monitor
    from .ports import check_port

    check_port(port)
    click.echo(f"monitoring {port} (Ctrl-C to stop)", err=True)
    home = Home(home_dir)
    secrets = [home.key_path.read_bytes()] if home.key_path.is_file() else []
    found = do_monitor(
        port, click.echo, masker=Masker(secrets), reset=reset, duration=duration, until=until
    )
    if until and found is None:
        raise VeilError(
            f"no log line matched {until!r}" + (f" within {duration} s" if duration else "")
        )


@click.command()
@port_argument
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="feed.jsonl",
    show_default=True,
    help="local file",
)
@click.option("--file", "remote", default="feed.jsonl", show_default=True, help="file on the board")
def fetch(port, out, remote):
    """Copy the spooled feed off the board on PORT (this stops its tick loop until a reset)."""
    from .board import Board, BoardError
    from .ports import check_port

    check_port(port)
    board = Board(port)
    try:
        board.exec(f"import os; os.stat({remote!r})")
    except BoardError as e:
        if "ENOENT" not in str(e):
            raise
        raise VeilError(
            f"no {remote} on the board on {port}: it has not published yet "
            f"(provision it, then start it with `veil monitor {port} --reset`)"
        ) from None
    board.get_file(remote, out)
    n = sum(1 for _ in out.open("rb"))
    click.echo(f"{port}:{remote} -> {out} ({n} records)")
