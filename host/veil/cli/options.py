"""Pieces shared by the CLI's command modules: options, argument parsing, the progress
reporter, tables, signals."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
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

profile_options = [
    click.option(
        "--profile",
        "profile_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="decoy profile (JSON from `veil profile fit`)",
    ),
    click.option(
        "--weak-decoys",
        is_flag=True,
        help="push a decoy profile even though its check by `veil profile fit` missed the "
        "privacy targets",
    ),
]

WEAK_WARNING = (
    "warning: {device}'s decoy profile missed the privacy targets when it was checked: an "
    "outsider may tell its real track from the fakes (see `veil profile fit`)"
)

origin_option = click.option(
    "--origin",
    metavar="ORIGINATOR",
    help="oneM2M originator to read as (decode: each device's own AE; ingest: CAdmin)",
)


def examples(*commands: str) -> str:
    """A command's --help epilog: its examples, kept as written."""
    return "\b\nExamples:\n" + "\n".join(f"  {c}" for c in commands)


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print the result as JSON on stdout (messages go to stderr)",
)


def print_json(doc) -> None:
    """One JSON document on stdout, for scripts."""
    click.echo(json.dumps(doc, indent=1))


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
        callback=lambda _ctx, _param, values: [_channel(v) for v in values],
        help="column to publish, with its decimals if not those of the data (repeat; default: "
        "every numeric column)",
    ),
    click.option("--rows", type=click.IntRange(min=1), help="replay only the first ROWS rows"),
]

# A device's k, epoch and time zone: a home's devices share them (veil.owner.devices.household).
household_options = [
    click.option(
        "--k", type=click.IntRange(2, 16), help="tracks per tick (default: the home's, else 4)"
    ),
    click.option(
        "--epoch", type=click.IntRange(0, 2**32 - 1), help="epoch (default: the home's, else 0)"
    ),
    click.option(
        "--tz",
        type=click.IntRange(-43200, 50400),
        metavar="SECONDS",
        help="the home's local time minus UTC, e.g. 3600 for UTC+1 (default: the home's, else "
        "0); the real household is re-dealt at 04:00 local time",
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


# What a device runs with, for the commands that put it on a board (`provision`, `up`).
device_options = [
    click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="recorded data the board's replay driver will publish instead of sensors",
    ),
    *data_options,
    *household_options,
    click.option(
        "--period-ms",
        type=click.IntRange(min=0),
        help="tick period (default: 30000 with sensors; with --csv, as fast as the data allows)",
    ),
    click.option(
        "--log-every",
        type=click.IntRange(min=1),
        default=1000,
        show_default=True,
        help="log a line every this many ticks",
    ),
    click.option("--replace", is_flag=True, help="redefine an existing device of the home"),
    *profile_options,
    *provision_options,
]

# Where MicroPython comes from and how it is written (`flash`, `up`).
flash_options = [
    click.option(
        "--image",
        type=click.Path(dir_okay=False, path_type=Path),
        help="MicroPython .bin to write (default: newest in the cache, else downloaded)",
    ),
    click.option(
        "--cache",
        type=click.Path(file_okay=False, path_type=Path),
        help="folder of MicroPython images (default: $VEIL_CACHE or ~/.cache/veil/micropython)",
    ),
    click.option(
        "--download/--no-download",
        default=True,
        show_default=True,
        help="fetch the official image from micropython.org when none is cached",
    ),
    click.option("--baud", type=click.IntRange(9600), help="serial speed (default: the board's)"),
    click.option(
        "--no-reset",
        is_flag=True,
        help="the board is already in its bootloader (held BOOT while pressing EN): do not "
        "reset it",
    ),
]


def _channel(value: str) -> str:
    """A --channel value checked at parse time: COLUMN or COLUMN:DECIMALS."""
    from ..dataset import MAX_DEC

    column, colon, dec = value.partition(":")
    if not column or (colon and not (dec.isdigit() and int(dec) <= MAX_DEC)):
        raise click.BadParameter(
            f"{value!r}: give COLUMN or COLUMN:DECIMALS, DECIMALS a whole number 0-{MAX_DEC}"
        )
    return value


def find_port(port: str, board=None) -> str:
    """PORT, or for `auto` the one port with a supported board's USB serial chip (said on
    stderr)."""
    from ..boards.ports import resolve

    found, info = resolve(port, board)
    if info:
        click.echo(f"auto: {info.label()}", err=True)
    return found


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


class Reporter:
    """The CLI's veil.progress.Progress, on stderr. On a terminal, a bar per phase with the
    count and an ETA from the phase's own pace (a pulsing bar and the time so far when the
    total is unknown). Otherwise, as in a log: a line once a phase has run for `after`
    seconds, another whenever `every` seconds pass without one, and one when a phase that was
    shown ends. Nothing shows before the first report, so a command refused before any work
    prints only its error line. Use it as a context: leaving it ends the last phase."""

    def __init__(self, *, after: float = 2.0, every: float = 9.0, tty: bool | None = None):
        self.after, self.every = after, every
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._phase: str | None = None
        self._done, self._total, self._start, self._said = 0.0, None, 0.0, None
        self._bar = self._task = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._end(failed=exc[0] is not None)
        self._stop.set()
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, phase: str, done: float = 0, total: float | None = None) -> None:
        with self._lock:
            if phase != self._phase:
                self._end(failed=False)
                self._begin(phase, total)
            self._done, self._total = done, total
            if self._bar is not None:
                self._bar.update(self._task, completed=done, total=total)

    def _begin(self, phase: str, total: float | None) -> None:
        self._phase, self._start, self._said = phase, time.monotonic(), None
        if self.tty:
            if self._bar is None:
                self._bar = _rich_bar()
                self._bar.start()
            self._task = self._bar.add_task(phase, total=total)
        elif self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()

    def _end(self, *, failed: bool) -> None:
        if self._phase is None:
            return
        if self._bar is not None:
            if not failed:
                total = self._total if self._total is not None else self._done or 1
                self._bar.update(self._task, completed=total, total=total)
        elif self._said is not None and not failed:
            click.echo(f"{self._phase}: done in {time.monotonic() - self._start:.0f} s", err=True)
        self._phase = None

    def _heartbeat(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                now = time.monotonic()
                due = self._start + self.after if self._said is None else self._said + self.every
                finished = self._total is not None and self._done >= self._total
                if self._phase is not None and not finished and now >= due:
                    click.echo(self._status(now), err=True)
                    self._said = now

    def _status(self, now: float) -> str:
        took = now - self._start
        line = f"{self._phase}: {took:.0f} s so far"
        if self._total:
            share = self._done / self._total
            line = f"{self._phase}: {self._done:.0f}/{self._total:.0f} ({share:.0%})"
            if self._done:
                left = took * (self._total - self._done) / self._done
                line += f", about {left:.0f} s left"
        return line


def _rich_bar():
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


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
