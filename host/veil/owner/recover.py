"""`veil decode`: the owner's real readings recovered from a disguised feed with the home key,
verified, and written as CSV."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VeilError
from ..progress import Progress, lines_in, quiet
from .columns import Batch, tallied
from .decode import Report, WrongKeyError, decode_columns, write_columns_csv
from .home import Home
from .sources import read_batches


class WrongHomeError(VeilError):
    """The feed's records were made by devices of another home: the wrong --home folder."""


@dataclass
class Recovered:
    readings: int  # rows written to the CSV
    report: Report
    absent: list[str] = field(default_factory=list)  # devices a CSE does not have
    strangers: list[str] = field(default_factory=list)  # devices in the feed, not in the home


def recover(
    home: Home,
    csv_out: Path,
    *,
    feeds: Iterable[str | Path] = (),
    store: str | Path | None = None,
    cse: str | None = None,
    origin: str | None = None,
    progress: Progress = quiet,
) -> Recovered:
    """Decode the home's devices from one source (feed files, a platform's store, or a CSE
    read as `origin`; veil.owner.sources) into `csv_out`. Records that all come from devices
    the home does not have, or none of which verifies under its key, mean the wrong home
    folder: that is said, rather than reported as injected records. The records read are
    counted into `progress` as "decode" (veil.progress)."""
    keys, specs = home.for_records()
    batches, absent = read_batches(specs, feeds=feeds, store=store, cse=cse, origin=origin)
    total = sum(lines_in(f) or 0 for f in feeds) if feeds else None
    strangers: set[str] = set()
    try:
        batches = tallied(_noting_strangers(batches, strangers), progress, "decode", total)
        readings, report = decode_columns(keys, specs, batches)
    except WrongKeyError as e:
        raise WrongKeyError(f"{e} (is {home.path} the right --home folder?)") from None
    verified = report.total("verified_real") + report.total("verified_fake")
    if strangers and not verified:
        raise WrongHomeError(
            f"the records are from {names(strangers)}, not from devices of {home.path} (it "
            f"has {names(specs)}): give the --home folder of the home that made them"
        )
    got = write_columns_csv(csv_out, readings, specs)
    return Recovered(got, report, absent, sorted(strangers))


def _noting_strangers(batches: Iterable[Batch], strangers: set[str]) -> Iterator[Batch]:
    for batch in batches:
        strangers |= batch.strangers
        yield batch


def names(devices: Iterable[str]) -> str:
    """'device a' or 'devices a, b and 3 more'."""
    found = sorted(devices)
    shown = ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
    return ("device " if len(found) == 1 else "devices ") + shown
