"""Pieces shared by the CLI's command modules: options, progress bars, tables."""

from __future__ import annotations

import os
import sys
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


def progress(total: int, label: str):
    """A progress bar on stderr and an `update(done)` callback taking absolute counts."""
    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
    done = 0

    def update(n: int) -> None:
        nonlocal done
        bar.update(n - done)
        done = n

    return bar, update


def load_series(csv_path, time_col, time_format, channels, rows):
    from . import dataset

    return dataset.load(
        csv_path, time_col=time_col, time_format=time_format, channels=list(channels), limit=rows
    )


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


def with_options(options):
    def wrap(f):
        for opt in reversed(options):
            f = opt(f)
        return f

    return wrap


def report_table(report) -> str:
    from .decode import FINDINGS

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
