"""The owner's commands: the home key, provisioning a board, fetching its feed, and decoding
the real readings (from files, a platform's store, a CSE, or live from a broker)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (
    WEAK_WARNING,
    Reporter,
    broker_options,
    device_options,
    examples,
    find_port,
    home_option,
    json_option,
    load_profile,
    load_series,
    origin_option,
    print_json,
    report_table,
    stop_on_signals,
    with_options,
)


@click.command(
    short_help="Create the home key (kept secret, never shown).",
    epilog=examples("veil keygen --home veil-home"),
)
@home_option
def keygen(home_dir: Path):
    """Create the home key (32 bytes from the OS CSPRNG, file mode 0600; never shown)."""
    from ..owner.home import Home

    home = Home(home_dir)
    fp = home.keygen()
    click.echo(f"created {home.key_path} (mode 0600, fingerprint {fp})")
    click.echo("Keep it secret and keep a backup: without it your real data cannot be recovered.")


@click.command(
    short_help="Write a device's settings and the home key to a board.",
    epilog=examples("veil provision auto --home veil-home --device kitchen --board esp32-devkitc"),
)
@click.argument("port", metavar="PORT|auto")
@home_option
@click.option("--device", required=True, help="device id (1-32 of A-Z a-z 0-9 _ -)")
@click.option(
    "--board",
    "board_name",
    metavar="NAME|FILE.toml",
    help="board definition: checks the chip and, without --csv, publishes its default sensors",
)
@with_options(device_options)
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
    board = boardfile.load(board_name) if board_name else None
    port = find_port(port, board)
    with Reporter() as progress:
        progress("provision")
        definition = do_provision(
            port,
            Home(home_dir),
            device,
            board=board,
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


@click.command(
    short_help="Copy the feed a board spooled to the laptop.",
    epilog=examples("veil fetch auto --out kitchen.jsonl"),
)
@click.argument("port", metavar="PORT|auto")
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

    port = find_port(port)
    with Reporter() as progress:

        def copied(done: int, total: int) -> None:
            progress("copy the feed off the board", done, total)

        n = do_fetch(port, out, remote, progress=copied)
    click.echo(f"{port}:{remote} -> {out} ({n} records)")


@click.command(
    short_help="Recover and verify the real readings with the key.",
    epilog=examples(
        "veil decode --home veil-home kitchen.jsonl --out real.csv",
        "veil decode --home veil-home --store platform.db --json",
    ),
)
@click.argument("feeds", nargs=-1, type=click.Path(path_type=Path))
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
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="also write the verification report as JSON (- for stdout)",
)
@json_option
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
    as_json,
    user,
    password_file,
    ca,
    limit,
    idle,
):
    """Owner side: recover the real readings and verify every record with the home key.

    Exits 3 when records were altered, injected, missing or malformed. With --json, the
    summary (readings, CSV, the report) is printed as JSON; with --follow, each reading is a
    JSON line.
    """
    from ..owner.decode import PROBLEMS
    from ..owner.home import Home

    if sum(map(bool, (feeds, store_path, follow, cse))) != 1:
        raise click.UsageError("give feed files, --store, --follow or --cse (one of them)")
    to_stdout = report_out == Path("-") or as_json
    home = Home(home_dir)
    if follow:
        report = _follow(home, follow, csv_out, report_out, as_json, user, password_file, ca,
                         limit=limit, idle=idle)  # fmt: skip
    else:
        report = _recover(home, csv_out, feeds, store_path, cse, origin, report_out, as_json,
                          quiet=to_stdout)  # fmt: skip
    if not report.clean:
        for finding, examples in report.examples.items():
            if finding in PROBLEMS:
                click.echo(f"{finding}: " + "; ".join(examples), err=True)
        click.echo("veil: integrity problems found (see the report)", err=True)
        sys.exit(3)


def _recover(home, csv_out, feeds, store_path, cse, origin, report_out, as_json, *, quiet):
    """A stored feed decoded; the table on stdout, or on stderr when stdout carries JSON."""
    from ..owner.recover import names, recover

    with Reporter() as progress:
        got = recover(
            home, csv_out, feeds=feeds, store=store_path, cse=cse, origin=origin,
            progress=progress,
        )  # fmt: skip
    for dev in got.absent:
        click.echo(f"{dev}: not on {cse}", err=True)
    if got.strangers:
        click.echo(
            f"records of {names(got.strangers)} are not from this home ({home.path}): counted "
            "as injected",
            err=True,
        )
    report = got.report
    if not as_json:
        click.echo(report_table(report), err=quiet)
        checked = f"every record's tag checked, real and fake; decoded by {report.verifier}"
        click.echo(checked, err=quiet)
        click.echo(f"{got.readings} real readings -> {csv_out}", err=quiet)
    _write_report(report, report_out)
    if as_json:
        print_json({"readings": got.readings, "csv": str(csv_out), **report.to_json()})
    return report


def _follow(home, url, csv_out, report_out, as_json, user, password_file, ca, *, limit, idle):
    """Live decode: a header, then a line per reading (or a JSON line each)."""
    from ..owner.live import follow
    from ..platform.mqtt_link import read_secret

    header_shown = []

    def show(columns, row):
        if as_json:
            click.echo(json.dumps(dict(zip(columns, row, strict=True))))
            return
        if not header_shown:
            click.echo(" ".join(columns))
            header_shown.append(True)
        click.echo(" ".join(str(c) if c != "" else "-" for c in row))

    report = follow(
        home,
        url,
        csv_out,
        report_out=None if report_out == Path("-") else report_out,
        user=user,
        password=read_secret(password_file),
        ca=ca,
        limit=limit,
        idle=idle,
        stop=stop_on_signals(),
        echo=lambda line: click.echo(line, err=as_json),
        show=show,
    )
    if report_out == Path("-"):
        _write_report(report, report_out)
    return report


def _write_report(report, report_out) -> None:
    if report_out is None:
        return
    text = json.dumps(report.to_json(), indent=1)
    if report_out == Path("-"):
        click.echo(text)
    else:
        report_out.write_text(text + "\n")
