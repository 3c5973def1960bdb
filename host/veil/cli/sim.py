"""Commands on the virtual board: `veil sim` (the real firmware over recorded data) and
`veil demo` (the whole story on embedded defaults)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import VeilError
from .options import (
    WEAK_WARNING,
    Reporter,
    data_options,
    examples,
    home_option,
    household_options,
    json_option,
    load_profile,
    load_series,
    print_json,
    profile_options,
    provision_options,
    report_table,
    with_options,
)


@click.command(
    short_help="Run the firmware on the virtual board over a CSV.",
    epilog=examples("veil sim data.csv --home room --device co2 --channel S5_CO2 --out co2.jsonl"),
)
@click.argument("csv_path", metavar="CSV", type=click.Path(dir_okay=False, path_type=Path))
@home_option
@click.option("--device", default="sim1", show_default=True, help="device id")
@with_options(data_options)
@with_options(household_options)
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
@with_options(profile_options)
@with_options(provision_options)
@json_option
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
    tz,
    realtime,
    speed,
    feed_out,
    board_dir,
    replace,
    profile_path,
    weak_decoys,
    as_json,
    **net,
):
    """Run the firmware on the virtual board over recorded data in CSV (the feed goes to a
    file, or with --mqtt over the network as a real board's would). The device joins the
    home: it shares the k and epoch of the home's other devices. Without --profile, the decoys
    are fitted from the CSV itself (the home's own history)."""
    from ..boards.netconfig import sink_settings
    from ..owner.home import Home
    from ..sim.replay import simulate

    transport = sink_settings(device, **net)
    series = load_series(
        csv_path, time_col=time_col, time_format=time_format, channels=channels, rows=rows
    )
    with Reporter() as progress:
        result = simulate(
            series,
            Home(home_dir),
            device,
            feed_out=feed_out,
            k=k,
            epoch=epoch,
            tz=tz,
            realtime=realtime,
            speed=speed,
            board_dir=board_dir,
            profile=load_profile(profile_path),
            replace=replace,
            weak_decoys=weak_decoys,
            progress=progress,
            transport=transport,
        )
    if why := result.undelivered():
        kept = (
            f"they stay in the outbox of the board in {board_dir}"
            if board_dir
            else "the virtual board and its outbox are gone: once the platform answers, run "
            "this again (a fresh virtual board makes the same records, stored once)"
        )
        raise VeilError(f"{device}: {why}; {kept}")
    if result.weak:
        click.echo(WEAK_WARNING.format(device=device), err=True)
    dest = net.get("mqtt_url") or net.get("onem2m_url") or feed_out
    if as_json:
        spec = result.spec
        channels = [c.name for c in spec.channels]
        print_json({"device": device, "ticks": result.ticks, "k": spec.k, "epoch": spec.epoch,
                    "channels": channels, "to": str(dest)})  # fmt: skip
        return
    click.echo(
        f"{device}: {result.ticks} ticks x {result.spec.k} tracks -> {dest} "
        f"({', '.join(c.name for c in result.spec.channels)})"
    )


@click.command(
    short_help="The whole story on recorded home data.",
    epilog=examples("veil demo --dir veil-demo"),
)
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
    "--rows",
    type=click.IntRange(min=1),
    help="replay only the first ROWS rows of the two days the demo replays",
)
def demo(out, k, rows):
    """The main job on embedded defaults: virtual board -> platform store -> owner's decode."""
    from ..sim.demo import run_demo

    with Reporter() as progress:
        res = run_demo(out, k=k, rows=rows, progress=progress)
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
