"""The maker's commands for real boards: list board files, flash MicroPython, deploy the
firmware, watch the log. Each is a thin shell over its library module in veil.boards."""

from __future__ import annotations

import click

from .options import (
    WEAK_WARNING,
    Reporter,
    device_options,
    examples,
    find_port,
    flash_options,
    home_option,
    json_option,
    load_profile,
    load_series,
    print_json,
    with_options,
)

port_argument = click.argument("port", metavar="PORT|auto")
board_option = click.option(
    "--board",
    "board_name",
    metavar="NAME|FILE.toml",
    help="board definition (see `veil boards`)",
)


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


@click.command(
    short_help="List the serial ports and the boards on them.",
    epilog=examples("veil ports --probe"),
)
@click.option(
    "--probe",
    is_flag=True,
    help="also ask each board what it runs (stops its firmware "
    "until a reset, as every mpremote command does)",
)
@json_option
def ports(probe, as_json):
    """List the serial ports, with the boards whose USB serial chip each has."""
    from ..boards.ports import listing
    from ..boards.ports import probe as ask

    found = listing()
    on = {p.device: ask(p.device) for p in found if p.boards} if probe else {}
    if as_json:
        print_json(
            [
                {**p.to_json(), **({"on": on[p.device].to_json()} if p.device in on else {})}
                for p in found
            ]
        )
        return
    if not found:
        click.echo("no serial ports: plug the board in with a data cable (some cables only charge)")
        return
    for p in found:
        click.echo(p.label() + (f": {on[p.device].describe()}" if p.device in on else ""))


@click.command(
    short_help="List the board definitions and their sensors.",
    epilog=examples("veil boards --json"),
)
@json_option
def boards(as_json):
    """List the board definitions (boards/*.toml) and their default sensors."""
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


@click.command(
    short_help="Write MicroPython to a board (its chip checked first).",
    epilog=examples("veil flash auto --board esp32-devkitc"),
)
@port_argument
@click.option("--board", "board_name", required=True, metavar="NAME|FILE.toml", help="board")
@with_options(flash_options)
def flash(port, board_name, image, cache, download, baud, no_reset):
    """Erase the board on PORT and write MicroPython to it (checks the chip first)."""
    from ..boards import boardfile
    from ..boards.flash import flash as do_flash

    board = boardfile.load(board_name)
    port = find_port(port, board)
    chip = do_flash(
        board,
        port,
        image=image,
        cache=cache,
        download=download,
        baud=baud,
        reset=not no_reset,
        out=_echo_err,
    )
    click.echo(f"flashed MicroPython to the {chip} on {port}; next: veil deploy {port}")


@click.command(
    short_help="Copy the firmware to a board, only what changed.",
    epilog=examples("veil deploy auto --board esp32-devkitc"),
)
@port_argument
@board_option
def deploy(port, board_name):
    """Compile the firmware to .mpy and copy what changed to the board on PORT, then verify."""
    from ..boards import boardfile
    from ..boards.deploy import deploy_firmware

    board = boardfile.load(board_name) if board_name else None
    port = find_port(port, board)
    with Reporter() as progress:
        progress("deploy")
        res = deploy_firmware(port, board)
    click.echo(
        f"deployed to {port}: {res.bundle_files} files, bundle {res.bundle_bytes} bytes "
        f"(.mpy; source {res.source_bytes} bytes); {len(res.copied)} copied, "
        f"{len(res.removed)} removed, verified"
    )


@click.command(
    short_help="Show a board's log, live, secrets masked.",
    epilog=examples(
        "veil monitor auto --reset", "veil monitor /dev/ttyUSB0 --until 'ticks 10' --duration 60"
    ),
)
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

    port = find_port(port)
    check_port(port)
    click.echo(f"monitoring {port} (Ctrl-C to stop)", err=True)
    secrets = Home(home_dir).secrets()
    do_monitor(port, click.echo, secrets=secrets, reset=reset, duration=duration, until=until)


@click.command(
    short_help="From a board on USB to its data flowing, in one step.",
    epilog=examples("veil up auto --board esp32-devkitc --device kitchen"),
)
@port_argument
@home_option
@click.option("--device", required=True, help="device id (1-32 of A-Z a-z 0-9 _ -)")
@click.option(
    "--board",
    "board_name",
    required=True,
    metavar="NAME|FILE.toml",
    help="board definition (see `veil boards`): its chip, USB ids and, without --csv, sensors",
)
@with_options(device_options)
@with_options(flash_options)
@click.option("--no-follow", is_flag=True, help="do not start the board and follow its log")
@click.option("--duration", type=click.FloatRange(min=0), help="follow the log this many seconds")
@click.option("--until", metavar="REGEX", help="follow the log until a line matches REGEX")
def up(
    port,
    home_dir,
    device,
    board_name,
    csv_path,
    time_col,
    time_format,
    channels,
    rows,
    k,
    epoch,
    tz,
    period_ms,
    log_every,
    replace,
    profile_path,
    weak_decoys,
    image,
    cache,
    download,
    baud,
    no_reset,
    no_follow,
    duration,
    until,
    **net,
):
    """From a board on USB to its data flowing, in one step: find the port, flash MicroPython
    if the board has none or an older one, deploy what changed, create the home key if there
    is none, provision the device, then start the board and follow its log. Each step says
    what it does and skips what is already done.
    """
    from ..boards import boardfile
    from ..boards.netconfig import sink_settings
    from ..boards.up import up as bring_up
    from ..owner.home import Home

    board = boardfile.load(board_name)
    series = load_series(
        csv_path, time_col=time_col, time_format=time_format, channels=channels, rows=rows
    )
    with Reporter() as progress:
        definition = bring_up(
            port,
            Home(home_dir),
            device,
            board=board,
            series=series,
            k=k,
            epoch=epoch,
            tz=tz,
            period_ms=period_ms,
            log_every=log_every,
            profile=load_profile(profile_path),
            replace=replace,
            weak_decoys=weak_decoys,
            transport=sink_settings(device, **net),
            image=image,
            cache=cache,
            download=download,
            baud=baud,
            reset=not no_reset,
            follow=not no_follow,
            duration=duration,
            until=until,
            out=click.echo,
            say=_echo_err,
            progress=progress,
        )
    if definition.weak:
        click.echo(WEAK_WARNING.format(device=device), err=True)
