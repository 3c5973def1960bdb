"""The `veil` command: a thin shell over the library. Every expected failure is a VeilError,
caught once in `main()` and shown as one line with a non-zero exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__, cli_boards, cli_onem2m, cli_privacy
from .cli_transport import (
    broker,
    broker_options,
    ingest_options,
    provision_options,
    run_follow,
    run_ingest_service,
)
from .clikit import (
    data_options,
    home_option,
    load_series,
    profile_option,
    progress,
    report_table,
    with_options,
)
from .errors import VeilError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veil")
def cli():
    """veil: every real sensor reading published among keyed fakes.

    Owners keep the home key and de-mix their real data; platforms store only the disguised
    feed. Start with `veil demo`.
    """


@cli.command()
@home_option
def keygen(home_dir: Path):
    """Create the home key (32 bytes from the OS CSPRNG, file mode 0600; never shown)."""
    from .home import Home

    home = Home(home_dir)
    fp = home.keygen()
    click.echo(f"created {home.key_path} (mode 0600, fingerprint {fp})")
    click.echo("Keep it secret and keep a backup: without it your real data cannot be recovered.")


@cli.command()
@click.argument("csv_path", metavar="CSV", type=click.Path(dir_okay=False, path_type=Path))
@home_option
@click.option("--device", default="sim1", show_default=True, help="device id")
@with_options(data_options)
@click.option(
    "--k", type=click.IntRange(2, 16), default=4, show_default=True, help="tracks per tick"
)
@click.option("--epoch", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option(
    "--realtime",
    is_flag=True,
    help="tick at the data's own timestamps (default: as fast as possible)",
)
@click.option(
    "--speed",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="with --realtime: run this many times faster",
)
@click.option(
    "--out",
    "feed_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="feed.jsonl",
    show_default=True,
    help="where to write the disguised feed",
)
@click.option(
    "--board-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="keep the virtual board's filesystem here (default: a temporary folder)",
)
@click.option("--replace", is_flag=True, help="redefine an existing device of the home")
@profile_option
@with_options(provision_options)
def sim(
    csv_path,
    home_dir,
    device,
    time_col,
    time_format,
    channels,
    rows,
    k,
    epoch,
    realtime,
    speed,
    feed_out,
    board_dir,
    replace,
    profile_path,
    **net,
):
    """Run the firmware on the virtual board over recorded data in CSV (the feed goes to a
    file, or with --mqtt over the network as a real board's would). Without --profile, the
    decoys are fitted from the CSV itself (the home's own history)."""
    from .home import Home
    from .netconfig import sink_settings
    from .profile import load as load_profile
    from .sim import simulate

    sink, secrets, files = sink_settings(device, **net)
    series = load_series(csv_path, time_col, time_format, channels, rows)
    home = Home(home_dir)
    bar, update = progress(len(series.times), f"{device}: replaying")
    with bar:
        result = simulate(
            series,
            home,
            device,
            feed_out,
            k=k,
            epoch=epoch,
            realtime=realtime,
            speed=speed,
            board_dir=board_dir,
            profile=load_profile(profile_path) if profile_path else None,
            replace=replace,
            progress=update,
            sink=sink,
            secrets=secrets,
            files=files,
        )
        update(result.ticks)
    dest = net.get("mqtt_url") or net.get("onem2m_url") or feed_out
    click.echo(
        f"{device}: {result.ticks} ticks x {k} tracks -> {dest} "
        f"({', '.join(c.name for c in result.spec.channels)})"
    )
    if why := result.undelivered():
        raise VeilError(f"{device}: {why}; they stay in the board's outbox")


@cli.command()
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
@click.option(
    "--k", type=click.IntRange(2, 16), help="tracks per tick (default: the home's, else 4)"
)
@click.option(
    "--epoch", type=click.IntRange(0, 2**32 - 1), help="epoch (default: the home's, else 0)"
)
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
@profile_option
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
    period_ms,
    log_every,
    replace,
    profile_path,
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
    from . import boards, devices
    from .board import Board
    from .deploy import check_machine
    from .home import Home
    from .netconfig import sink_settings
    from .ports import check_port
    from .profile import default_profile, for_series
    from .profile import load as load_profile
    from .provision import provision as do_provision

    if not (board_name or csv_path):
        raise click.UsageError("give --board (the board's sensors) or --csv (recorded data)")
    home = Home(home_dir)
    home.key()
    k, epoch = devices.household(home, device, k, epoch)
    definition = boards.load(board_name) if board_name else None
    series = load_series(csv_path, time_col, time_format, channels, rows) if csv_path else None
    sink, secrets, files = sink_settings(device, **net)
    if series is not None:
        spec, config = devices.replay_device(series, device, k, epoch, period_ms, log_every, sink)
    else:
        spec, config = devices.sensor_device(
            definition, device, k, epoch, period_ms, log_every, sink
        )
    profile = load_profile(profile_path) if profile_path else None
    profile = profile or (None if replace else home.profile(device))
    if profile is None:
        shared = home.occupancy()
        if series is not None:
            profile = for_series(series, spec, shared)
        else:
            profile = default_profile(spec)
            profile["occupancy"] = shared or profile["occupancy"]
    check_port(port)
    board = Board(port)
    if definition:
        check_machine(board, definition)
    do_provision(board, home, spec, config, profile, series, replace, secrets, files)
    if series is None:
        devices.set_clock(board)
    click.echo(
        f"provisioned {device} on {port}: k={k}, epoch {epoch}, "
        f"{len(spec.channels)} channels ({', '.join(c.name for c in spec.channels)})"
    )


@cli.command()
@click.argument("sources", metavar="FEED…|mqtt://…|http://CSE", nargs=-1, required=True)
@click.option(
    "--store",
    "store_path",
    default="platform.db",
    show_default=True,
    help="SQLite file, or a postgresql:// URL",
)
@with_options(broker_options)
@with_options(ingest_options)
@cli_onem2m.origin_option
def ingest(sources, store_path, origin, **service):
    """Platform side: store disguised feeds (files, live from a broker, or from a oneM2M CSE);
    no key needed; quarantine non-records with the reason."""
    from .ingest import ingest_file
    from .store import open_store

    if any(s.startswith(("http://", "https://")) for s in sources):
        if len(sources) != 1:
            raise click.UsageError("give one CSE URL, or feed files")
        cli_onem2m.run_cse_ingest(sources[0], store_path, origin)
        return
    if any(s.startswith(("mqtt://", "mqtts://")) for s in sources):
        if len(sources) != 1:
            raise click.UsageError("give one broker URL, or feed files")
        run_ingest_service(sources[0], store_path, **service)
        return
    quarantined = []
    with open_store(store_path) as store:
        for feed in sources:
            res = ingest_file(store, Path(feed))
            quarantined += res.quarantined
            click.echo(
                f"{feed}: {res.read} messages, {res.stored} stored, "
                f"{res.duplicates} already stored, {len(res.quarantined)} quarantined"
            )
        total, _ = store.counts()
    click.echo(f"{store_path}: {total} records")
    if quarantined:
        first = quarantined[0]
        raise VeilError(
            f"{len(quarantined)} messages quarantined (first, {first.origin}: {first.reason}); "
            "valid records were stored"
        )


@cli.command()
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
@cli_onem2m.origin_option
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
def decode(feeds, home_dir, store_path, follow, cse, origin, csv_out, report_out, **live):
    """Owner side: recover the real readings and verify every record with the home key.

    Exits 3 when records were altered, injected, missing or malformed.
    """
    from itertools import chain

    from .decode import decode as run_decode
    from .decode import write_csv
    from .feed import read_feed
    from .home import Home
    from .store import open_store

    if sum(map(bool, (feeds, store_path, follow, cse))) != 1:
        raise click.UsageError("give feed files, --store, --follow or --cse (one of them)")
    if follow:
        report = run_follow(home_dir, follow, csv_out, report_out, **live)
        if not report.clean:
            sys.exit(3)
        return
    home = Home(home_dir)
    keys, specs = home.keys(), home.devices()
    if not specs:
        raise VeilError(f"no devices in {home.path}: provision or sim a device first")
    if store_path:
        with open_store(store_path, create=False) as store:
            readings, report = run_decode(keys, specs, store.items())
    elif cse:
        readings, report = run_decode(keys, specs, cli_onem2m.cse_items(cse, list(specs), origin))
    else:
        readings, report = run_decode(keys, specs, chain.from_iterable(map(read_feed, feeds)))
    n = write_csv(csv_out, readings, specs)
    click.echo(report_table(report))
    if report_out:
        report_out.write_text(json.dumps(report.to_json(), indent=1) + "\n")
    click.echo(f"{n} real readings -> {csv_out}")
    if not report.clean:
        for finding, examples in report.examples.items():
            if finding in ("altered", "injected", "missing", "malformed"):
                click.echo(f"{finding}: " + "; ".join(examples), err=True)
        click.echo("veil: integrity problems found (see the table above)", err=True)
        sys.exit(3)


@cli.command()
@click.option(
    "--dir",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default="veil-demo",
    show_default=True,
    help="where the demo writes its files",
)
@click.option(
    "--k", type=click.IntRange(2, 16), default=4, show_default=True, help="tracks per tick"
)
@click.option(
    "--rows", type=click.IntRange(min=1), help="replay only the first ROWS rows of the demo data"
)
def demo(out, k, rows):
    """The main job on embedded defaults: virtual board -> platform store -> owner's decode."""
    from .demo import DATA, run_demo

    total = rows or sum(1 for _ in DATA.open()) - 1
    bar, update = progress(total, "virtual board: replaying room data")
    with bar:
        res = run_demo(out, k=k, rows=rows, progress=update)
        update(total)
    r = res.report
    click.echo(
        f"\nplatform stored {res.ingest.stored} records ({k} tracks x {res.rows} ticks), no key"
    )
    click.echo(report_table(r))
    ok = res.exact == res.rows and r.clean
    click.echo(
        f"\nowner recovered {res.exact}/{res.rows} real readings bit-exact against the source CSV"
        + (" - all of them" if ok else "")
    )
    for m in res.mismatches:
        click.echo(f"  {m}", err=True)
    click.echo(f"files in {out}/: feed.jsonl platform.db real.csv views.png home/")
    if not ok:
        raise VeilError("the demo did not recover every reading exactly")


for command in (
    cli_boards.boards,
    cli_boards.flash,
    cli_boards.deploy,
    cli_boards.monitor,
    cli_boards.fetch,
    broker,
    cli_onem2m.cse,
    cli_privacy.profile,
    cli_privacy.audit,
):
    cli.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except VeilError as e:
        click.echo(f"veil: error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("veil: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
