"""Pieces shared by the CLI's command modules: options, argument parsing, progress bars,
tables, signals."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

import click

HOME_HELP = "home folder with home.key and devices.json (env VEIL_HOME)"
home_option = click.option(
    "--home",
    "home_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("VEIL_HOME", "veil-home"),
    show_default="veil-home",
    help=HOME_HELP,
)

profile_option = click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="decoy profile (JSON from `veil profile fit`)",
)

origin_option = click.option(
    "--origin",
    metavar="ORIGINATOR",
    help="oneM2M originator to read as (decode: each device's own AE; ingest: CAdmin)",
)


def with_options(options):
    def wrap(f):
        for opt in reversed(options):
            f = opt(f)
        return f

    return wrap


data_options = [
    click.option(
        "--time", "time_col", help="time column (default: ts/time/timestamp/date or the first)"
    ),
    click.option(
        "--time-format",
        help="strptime format of the time column (default: ISO 8601 or Unix seconds)",
    ),
    click.option(
        "--channel",
        "channels",
        multiple=True,
        metavar="COLUMN[:DECIMALS]",
        help="column to publish (repeat; default: every numeric column)",
    ),
    click.option("--rows", type=click.IntRange(min=1), help="replay only the first ROWS rows"),
]

# A device's k and epoch: a home's devices share them (veil.owner.devices.household).
household_options = [
    click.option(
        "--k", type=click.IntRange(2, 16), help="tracks per tick (default: the home's, else 4)"
    ),
    click.option(
        "--epoch", type=click.IntRange(0, 2**32 - 1), help="epoch (default: the home's, else 0)"
    ),
]

broker_options = [
    click.option("--user", help="broker user name"),
    click.option(
        "--password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="file holding the broker password (default: env VEIL_MQTT_PASSWORD)",
    ),
    click.option(
        "--ca",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CA certificate (PEM) of an mqtts:// broker",
    ),
]

ingest_options = [
    click.option(
        "--group",
        help="share the load with the instances of this group (a shared subscription: only on "
        "a broker that restores those after a restart, not Mosquitto 2.0; docs/transports.md)",
    ),
    click.option(
        "--client-id",
        help="MQTT client id: names the broker session, one per instance (default: per host)",
    ),
    click.option("--limit", type=click.IntRange(min=0), help="stop after this many messages"),
    click.option(
        "--idle", type=click.FloatRange(min=0), help="stop after this many seconds without any"
    ),
]

# Broker and Wi-Fi settings a board is provisioned with (`veil sim`, `veil provision`).
provision_options = [
    click.option(
        "--mqtt", "mqtt_url", metavar="URL", help="publish over MQTT: mqtts://HOST[:PORT]"
    ),
    click.option(
        "--onem2m",
        "onem2m_url",
        metavar="URL",
        help="publish into a oneM2M CSE over HTTP: http://HOST:PORT/CSE-NAME",
    ),
    click.option(
        "--broker-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="folder made by `veil broker`: CA and this device's password from there",
    ),
    click.option(
        "--mqtt-ca", type=click.Path(dir_okay=False, path_type=Path), help="broker CA (PEM/DER)"
    ),
    click.option(
        "--mqtt-password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="the device's broker password (default: env VEIL_MQTT_PASSWORD)",
    ),
    click.option("--wifi-ssid", help="Wi-Fi network of a real board"),
    click.option(
        "--wifi-password-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Wi-Fi password (default: env VEIL_WIFI_PASSWORD)",
    ),
    click.option(
        "--spool-records",
        type=click.IntRange(min=16),
        default=4096,
        show_default=True,
        help="outbox size on the board's flash, in records",
    ),
]


def load_series(csv_path, *, time_col, time_format, channels, rows):
    """The recorded data the data options name; None without a CSV."""
    from .. import dataset

    if csv_path is None:
        return None
    return dataset.load(
        csv_path, time_col=time_col, time_format=time_format, channels=list(channels), limit=rows
    )


def load_profile(path: Path | None) -> dict | None:
    from ..privacy.profile import load

    return load(path) if path else None


def progress(total: int, label: str):
    """A progress bar on stderr and an `update(done)` callback taking absolute counts. The bar
    shows from the first update on, so that a command refused before any work prints only its
    error line; use the first value returned as the context the work runs in."""
    shown = contextlib.ExitStack()
    bar = None
    done = 0

    def update(n: int) -> None:
        nonlocal bar, done
        if bar is None:
            bar = shown.enter_context(
                click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
            )
        bar.update(n - done)
        done = n

    return shown, update


def report_table(report) -> str:
    from ..owner.decode import FINDINGS

    devs = sorted(report.devices)
    width = max([len("finding"), *(len(d) for d in devs)]) + 2
    lines = ["finding".ljust(20) + "".join(d.rjust(width) for d in devs)]
    extra = ("skipped_at_reboot", "dropped_by_device")  # counts kept beside the findings
    for f in (*FINDINGS, *extra):
        cells = []
        for d in devs:
            dr = report.devices[d]
            cells.append(str(getattr(dr, f) if f in extra else dr.counts[f]))
        lines.append(f.replace("_", " ").ljust(20) + "".join(c.rjust(width) for c in cells))
    return "\n".join(lines)


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM: long-running services stop cleanly on it."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
