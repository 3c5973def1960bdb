"""Commands of the decoys and their audit: `veil profile fit` and `veil audit`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import VeilError
from .options import Reporter, examples, home_option, json_option, print_json, with_options


def _one_source(feeds, store_path) -> None:
    if bool(feeds) == bool(store_path):
        raise click.UsageError("give feed files or --store, not both and not neither")


def _items(feeds, store_path):
    """(origin, record) from feed files or a platform store, for decode-like commands."""
    from ..owner.sources import read_items

    items, _absent = read_items(feeds=feeds, store=store_path)
    return items


def _column(spec: str, what: str):
    """FILE:COLUMN -> (times, values) of that column of a CSV (time column as `veil sim`)."""
    import numpy as np

    from .. import dataset

    path, _, column = spec.rpartition(":")
    if not path or not column:
        raise click.BadParameter(f"give {what} as FILE:COLUMN", param_hint=f"--{what}")
    series = dataset.load(path, channels=[column])
    values = [row[0] for row in series.rows]
    if any(v is None for v in values):
        raise VeilError(f"{path}: column {column} has empty cells")
    scale = 10 ** series.channels[0].dec
    return np.array(series.times), np.array(values, dtype=float) / scale


feed_args = [
    click.argument("feeds", nargs=-1, type=click.Path(dir_okay=False, path_type=Path)),
    click.option(
        "--store",
        "store_path",
        metavar="DB|postgresql://…",
        help="read the disguised feed from a platform's store (SQLite file or postgresql:// "
        "URL) instead of files",
    ),
]


@click.group(
    short_help="Decoy profiles: fit them from the home's own history.",
    epilog=examples("veil profile fit co2.jsonl pir.jsonl --home room"),
)
def profile():
    """Decoy profiles: how this home's fakes behave."""


@profile.command(
    "fit",
    short_help="Learn the decoy profiles from decoded history.",
    epilog=examples(
        "veil profile fit co2.jsonl pir.jsonl --home room --labels data.csv:Room_Occupancy_Count"
    ),
)
@with_options(feed_args)
@home_option
@click.option(
    "--labels",
    metavar="FILE:COLUMN",
    help="occupancy labels (a count of people, 0 when empty) to learn the household rhythm from",
)
def profile_fit(feeds, store_path, home_dir, labels):
    """Learn decoy profiles from the home's own decoded history (a few KB per device).

    The profiles go to the home folder; `veil provision` pushes them to the boards.
    """
    from ..owner.home import Home
    from ..owner.refit import refit

    _one_source(feeds, store_path)
    home = Home(home_dir)
    home.for_records()
    label_times = values = None
    if labels:
        label_times, values = _column(labels, "labels")
    with Reporter() as progress:
        progress("decode and fit the profiles")
        fitted = refit(home, _items(feeds, store_path), label_times=label_times, labels=values)
    for dev, n in fitted.items():
        path = home.profile_path(dev)
        size = path.stat().st_size
        click.echo(f"{dev}: profile from {n} real readings -> {path} ({size} B)")
    click.echo("push them to the boards with `veil provision` (or `veil sim`)")


@click.command(
    short_help="Attack a disguised feed as an outsider would.",
    epilog=examples(
        "veil audit co2.jsonl pir.jsonl --home room --labels data.csv:Room_Occupancy_Count"
    ),
)
@with_options(feed_args)
@home_option
@click.option("--labels", metavar="FILE:COLUMN", help="occupancy labels for the occupancy attack")
@click.option(
    "--covariate", metavar="FILE:COLUMN", help="a public series (outdoor temperature) to test"
)
@click.option(
    "--train",
    type=click.FloatRange(0.1, 0.9),
    default=0.6,
    show_default=True,
    help="share of the readings the attackers learn from (the rest tests them)",
)
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default="audit.png",
    show_default=True,
    help="where to draw the findings beside their targets",
)
@click.option(
    "--report",
    "report_out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="also write the findings as JSON (- for stdout)",
)
@json_option
def audit(feeds, store_path, home_dir, labels, covariate, train, png, report_out, as_json):
    """The owner's privacy audit: attacks that do not use the key, each against its target.

    The key only labels the attackers' training data and scores their answers. Exits 4 when a
    target is not met.
    """
    import sys

    _one_source(feeds, store_path)
    from ..owner.home import Home

    keys, specs = Home(home_dir).for_records()
    with Reporter() as progress:
        progress("load the audit")
        from ..privacy.audit import Series1D, run_audit
        from ..privacy.audit.report import draw

        lab = Series1D(*_column(labels, "labels")) if labels else None
        cov = Series1D(*_column(covariate, "covariate")) if covariate else None
        report = run_audit(
            _items(feeds, store_path), keys, specs, labels=lab, covariate_series=cov,
            train=train, progress=progress,
        )  # fmt: skip
        progress("plot")
        draw(report, png)
    doc = report.to_json()
    to_stdout = as_json or report_out == Path("-")
    if not as_json:
        click.echo(report.table(), err=to_stdout)
    click.echo(f"picture -> {png}", err=True)
    if report_out == Path("-") or as_json:
        print_json(doc)
    elif report_out:
        report_out.write_text(json.dumps(doc, indent=1) + "\n")
    if not report.all_met:
        click.echo("veil: some privacy targets are not met (see the table)", err=True)
        sys.exit(4)
