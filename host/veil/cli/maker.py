"""The maker's commands for real boards: list board files, flash MicroPython, deploy the
firmware, watch the log. Each is a thin shell over its library module in veil.boards."""

from __future__ import annotations

from pathlib import Path

import click

from .options import home_option, json_option, print_json

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
@json_option
def boards(as_json):
    """List the board definitions (boards/*.toml) and their default sensors.

    Example: veil boards --json
    """
    from ..boards import boardfile

    if as_json:
        print_json([boardfile.load(name).to_json() for name in boardfile.known()])
        return
    for name in boardfile.known():
        b = boardfile.load(name)
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
    from ..boards import boardfile
    from ..boards.flash import flash as do_flash

    chip = do_flash(
        boardfile.load(board_name),
        port,
        image=image,
        cache=cache,
        download=download,
        baud=baud,
        reset=not no_reset,
        out=_echo_err,
    )
    click.echo(f"flashed MicroPython to the {chip} on {port}; next: veil deploy {port}")


@click.command()
@port_argument
@board_option
def deploy(port, board_name):
    """Compile the firmware to .mpy and copy what changed to the board on PORT, then verify."""
    from ..boards import boardfile
    from ..boards.deploy import deploy_firmware

    res = deploy_firmware(port, boardfile.load(board_name) if board_name else None)
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
    from ..boards.monitor import monitor as do_monitor
    from ..boards.ports import check_port
    from ..owner.home import Home

    check_port(port)
    click.echo(f"monitoring {port} (Ctrl-C to stop)", err=True)
    secrets = Home(home_dir).secrets()
    do_monitor(port, click.echo, secrets=secrets, reset=reset, duration=duration, until=until)
