"""`veil decode`: the owner's real readings recovered from a disguised feed with the home key,
verified, and written as CSV."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .decode import Report, decode_columns, write_columns_csv
from .home import Home
from .sources import read_batches


@dataclass
class Recovered:
    readings: int  # rows written to the CSV
    report: Report
    absent: list[str] = field(default_factory=list)  # devices a CSE does not have


def recover(
    home: Home,
    csv_out: Path,
    *,
    feeds: Iterable[str | Path] = (),
    store: str | Path | None = None,
    cse: str | None = None,
    origin: str | None = None,
) -> Recovered:
    """Decode the home's devices from one source (feed files, a platform's store, or a CSE
    read as `origin`; veil.owner.sources) into `csv_out`."""
    keys, specs = home.keys(), home.require_devices()
    batches, absent = read_batches(specs, feeds=feeds, store=store, cse=cse, origin=origin)
    readings, report = decode_columns(keys, specs, batches)
    return Recovered(write_columns_csv(csv_out, readings, specs), report, absent)
