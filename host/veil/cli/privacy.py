"""Commands of the decoys and their audit: `veil profile fit` and `veil audit`."""

from __future__ import annotations

import json
import sys
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


def _batches(home, feeds, store_path):
    """The feed as batches of columns for the owner's batch decode (veil.owner.sources)."""
    from ..owner.sources import read_batches

    if bool(feeds) == bool(store_path):
        raise click.UsageError("give feed files or --store, not both and not neither")
    batches, _absent = read_batches(home.require_devices(), feeds=feeds, store=store_path)
    return batches


def _column(spec: str, what: str, counts: bool = False):
    """FILE:COLUMN -> (times, values) of that column of a CSV (time column as `veil sim`);
    with `counts`, the column must hold counts (of people: whole numbers, 0 or more)."""
    import numpy as np

    from .. import dataset

    path, _, column = spec.rpartition(":")
    if not path or not column:
        raise click.BadParameter(f"give {what} as FILE:COLUMN", param_hint=f"--{what}")
    series = dataset.load(path, channels=[column])
    values = [row[0] for row in series.rows]
    if any(v is None for v in values):
        raise VeilError(f"{path}: column {column} has empty cells")
    if counts and (series.channels[0].dec or min(values) < 0):
        raise VeilError(f"{path}: column {column} is not a count of people (whole numbers >= 0)")
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
@click.option(
    "--no-check",
    is_flag=True,
    help="fit on the whole history without rehearsing the profiles on a held-back part",
)
def profile_fit(feeds, store_path, home_dir, labels, no_check):
    """Learn decoy profiles from the home's own decoded history, and check them.

    Each device's profile is fitted on the first 60% of the history, once per candidate
    model, rehearsed by the real firmware on the 40% held back, and attacked with the privacy
    audit; the model that hides the held-back history best is refitted on the whole history
    and saved in the home folder with its scores. `veil provision` pushes it to the boards
    (a profile that missed the targets only with --weak-decoys). Exits 4 when a chosen
    profile still misses the targets.
    """
    from ..owner.home import Home
    from ..sim.rehearse import describe, fit_by_audit, fit_unchecked

    _one_source(feeds, store_path)
    home = Home(home_dir)
    home.for_records()
    label_times = values = None
    if labels:
        label_times, values = _column(labels, "labels", counts=True)
    items = _batches(home, feeds, store_path)
    if no_check:
        fitted = fit_unchecked(home, items, label_times=label_times, labels=values)
        for dev, n in fitted.items():
            path = home.profile_path(dev)
            click.echo(f"{dev}: profile from {n} real readings, unchecked -> {path}")
        return
    outcome = fit_by_audit(
        home, items, label_times=label_times, labels=values, progress=lambda m: click.echo(m)
    )
    click.echo("")
    for dev, o in sorted(outcome.devices.items()):
        was = "no usable profile before" if o.before is None else f"before: {_said(o.before)}"
        verdict = "meets the targets" if o.after.met else "MISSES the targets"
        click.echo(f"{dev}: {was}; after: {_said(o.after)} - {verdict}")
        path = home.profile_path(dev)
        click.echo(f"    {describe(o.options)}; {o.readings} real readings -> {path}")
    click.echo("\nthe chosen profiles, attacked on the held-back history:")
    click.echo(outcome.report.table())
    for w in outcome.warnings:
        click.echo(f"note: {w}")
    weak = sorted(d for d, o in outcome.devices.items() if not o.after.met)
    if weak:
        click.echo(
            f"veil: the decoys of {', '.join(weak)} can still be told apart on held-back "
            "history; more history helps, and `veil provision` pushes them only with "
            "--weak-decoys",
            err=True,
        )
        sys.exit(4)


def _said(score) -> str:
    return (
        f"discriminative score {score.discriminative:.2f}, real track named on "
        f"{round(score.picked * score.days)} of {score.days} days"
    )


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
        click.echo(report.text(), err=to_stdout)
    click.echo(f"picture -> {png}", err=True)
    if report_out == Path("-") or as_json:
        print_json(doc)
    elif report_out:
        report_out.write_text(json.dumps(doc, indent=1) + "\n")
    if not report.all_met:
        click.echo("veil: some privacy targets are not met (see the table)", err=True)
        sys.exit(4)
