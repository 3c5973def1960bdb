"""The owner's commands: the home key, provisioning a board, fetching its feed, and decoding
the real readings (from files, a platform's store, a CSE, or live from a broker)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (
    WEAK_WARNING,
    broker_options,
    data_options,
    home_option,
    household_options,
    load_profile,
    load_series,
    origin_option,
    profile_options,
    provision_options,
    report_table,
    stop_on_signals,
    with_options,
)


@click.command()
@home_option
def keygen(home_dir: Path):
    """Create the home key (32 bytes from the OS CSPRNG, file mode 0600; never shown)."""
    from ..owner.home import Home

    home = Home(home_dir)
    fp = home.keygen()
    click.echo(f"created {home.key_path} (mode 0600, fingerprint {fp})")
    click.echo("Keep it secret and keep a backup: without it your real data cannot be recovered.")


@click.command()
@click.argument("port")
@home_option
@click.option("--device", required=True, help="device id (1-32 of A-Z a-z 0-9 _ -)")
@click.option(
    "--board",
    "board_name",
    metavar="NAME|FILE.toml",
    help="board definition: checks the chip and, without --csv, publishes its default sensors",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="recorded data the board's replay driver will publish instead of sensors",
)
@with_options(data_options)
@with_options(household_options)
@click.option(
    "--period-ms",
    type=click.IntRange(min=0),
    help="tick period (default: 30000 with sensors; with --csv, as fast as the data allows)",
)
@click.option(
    "--log-every",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="log a line every this many ticks",
)
@click.option("--replace", is_flag=True, help="redefine an existing device of the home")
@with_options(profile_options)
@with_options(provision_options)
def provision(
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
    **net,
):
    """Write a device's config, decoy profile and the home key to the board on PORT (over
    USB), as one set.

    The channels come from the board file's sensors (--board) or from recorded data (--csv).
    Every device of a home shares its key, k and epoch. The decoy profile is --profile, else
    the one the device had, else fitted from the --csv data (the home's own history), else the
    default profiles of the sensors' kinds. With --mqtt the board publishes over the network
    (Wi-Fi on a real board) through an outbox on its flash; the broker and Wi-Fi passwords go
    to their own file on the board and are never shown.
    """
    from ..boards import boardfile
    from ..boards.netconfig import sink_settings
    from ..boards.provision import provision as do_provision
    from ..owner.home import Home

    if not (board_name or csv_path):
        raise click.UsageError("give --board (the board's sensors) or --csv (recorded data)")
    transport = sink_settings(device, **net)
    definition = do_provision(
        port,
        Home(home_dir),
        device,
        board=boardfile.load(board_name) if board_name else None,
        series=load_series(
            csv_path, time_col=time_col, time_format=time_format, channels=channels, rows=rows
        ),
        k=k,
        epoch=epoch,
        tz=tz,
        period_ms=period_ms,
        log_every=log_every,
        profile=load_profile(profile_path),
        replace=replace,
        weak_decoys=weak_decoys,
        transport=transport,
    )
    spec = definition.spec
    if definition.weak:
        click.echo(WEAK_WARNING.format(device=device), err=True)
    click.echo(
        f"provisioned {device} on {port}: k={spec.k}, epoch {spec.epoch}, "
        f"{len(spec.channels)} channels ({', '.join(c.name for c in spec.channels)})"
    )


@click.command()
@click.argument("port")
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
    from ..boards.fetch import fetch as do_fetch

    n = do_fetch(port, out, remote)
    click.echo(f"{port}:{remote} -> {out} ({n} records)")


@click.command()
@click.argument("feeds", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@home_option
@click.option(
    "--store",
    "store_path",
    help="decode from a platform's store (SQLite file or postgresql:// URL)",
)
@click.option(
    "--follow",
    metavar="mqtt://…",
    help="decode live from a broker, printing real readings as they arrive",
)
@click.option("--cse", metavar="http://HOST:PORT/CSE", help="decode from a oneM2M CSE")
@origin_option
@click.option(
    "--out",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="real.csv",
    show_default=True,
    help="CSV of the real readings",
)
@click.option(
    "--report",
    "report_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the verification report as JSON",
)
@with_options(broker_options)
@click.option("--limit", type=click.IntRange(min=1), help="with --follow: stop after N readings")
@click.option("--idle", type=click.FloatRange(min=0), help="with --follow: stop after S s of quiet")
def decode(
    feeds,
    home_dir,
    store_path,
    follow,
    cse,
    origin,
    csv_out,
    report_out,
    user,
    password_file,
    ca,
    limit,
    idle,
):
    """Owner side: recover the real readings and verify every record with the home key.

    Exits 3 when records were altered, injected, missing or malformed.
    """
    from ..owner.decode import PROBLEMS
    from ..owner.home import Home
    from ..owner.live import follow as follow_live
    from ..owner.recover import recover
    from ..platform.mqtt_link import read_secret

    if sum(map(bool, (feeds, store_path, follow, cse))) != 1:
        raise click.UsageError("give feed files, --store, --follow or --cse (one of them)")
    home = Home(home_dir)
    if follow:
        report = follow_live(
            home,
            follow,
            csv_out,
            report_out=report_out,
            user=user,
            password=read_secret(password_file),
            ca=ca,
            limit=limit,
            idle=idle,
            stop=stop_on_signals(),
            echo=click.echo,
        )
        if not report.clean:
            sys.exit(3)
        return
    got = recover(home, csv_out, feeds=feeds, store=store_path, cse=cse, origin=origin)
    for dev in got.absent:
        click.echo(f"{dev}: not on {cse}", err=True)
    report = got.report
    click.echo(report_table(report))
    click.echo(f"every record's tag checked, real and fake; decoded by {report.verifier}")
    if report_out:
        report_out.write_text(json.dumps(report.to_json(), indent=1) + "\n")
    click.echo(f"{got.readings} real readings -> {csv_out}")
    if not report.clean:
        for finding, examples in report.examples.items():
            if finding in PROBLEMS:
                click.echo(f"{finding}: " + "; ".join(examples), err=True)
        click.echo("veil: integrity problems found (see the table above)", err=True)
        sys.exit(3)
