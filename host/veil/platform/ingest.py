"""Platform-side ingest: check each message's shape (never its authenticity: no key here),
store records, quarantine everything else with its reason. From feed files, or from every veil
device of a oneM2M CSE (the MQTT service is veil.platform.ingest_mqtt)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VeilError
from ..feed import Rejected, read_feed
from ..progress import Progress, lines_in, quiet, tally
from ..protocol import Record
from .onem2m import ADMIN, Cse, CseUrl, read_devices, veil_devices
from .store import open_store
from .store.base import RecordStore

BATCH = 5000


@dataclass
class IngestResult:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: list[Rejected] = field(default_factory=list)


def ingest_items(
    store: RecordStore, items: Iterable[tuple[str, Record | Rejected]]
) -> IngestResult:
    """Store a stream of parsed messages in batches."""
    res = IngestResult()
    good: list[Record] = []
    bad: list[Rejected] = []

    def flush():
        added = store.add(good, bad)
        res.stored += added
        res.duplicates += len(good) - added
        res.quarantined.extend(bad)
        good.clear()
        bad.clear()

    for _origin, item in items:
        res.read += 1
        (bad if isinstance(item, Rejected) else good).append(item)
        if len(good) + len(bad) >= BATCH:
            flush()
    flush()
    return res


def ingest_file(
    store: RecordStore, path: str | Path, *, progress: Progress = quiet
) -> IngestResult:
    """Ingest one feed file, its messages counted into `progress` (veil.progress) as
    "ingest". A file with no record at all is refused as not a feed before anything is
    written: a picture or a log passed by mistake must not fill the quarantine."""
    first = None
    for _origin, item in read_feed(path):
        if isinstance(item, Record):
            break
        first = first or item
    else:
        raise VeilError(f"{path} is not a veil feed ({first.origin}: {first.reason})")
    lines = lines_in(path) if progress is not quiet else None
    return ingest_items(store, tally(read_feed(path), progress, "ingest", lines))


def ingest_files(
    target: str | Path,
    feeds: Iterable[str | Path],
    *,
    on_file=None,
    notice=None,
    progress: Progress = quiet,
) -> tuple[list[Rejected], int]:
    """Ingest feed files into the store at `target` (created, or upgraded, if need be: the
    line saying so goes to `notice`), calling `on_file(feed, result)` after each; returns
    every quarantined message and the number of records the store then holds."""
    quarantined: list[Rejected] = []
    with open_store(target) as store:
        if store.upgraded and notice:
            notice(store.upgraded)
        for feed in feeds:
            res = ingest_file(store, Path(feed), progress=progress)
            quarantined += res.quarantined
            if on_file:
                on_file(feed, res)
        total, _ = store.counts()
    return quarantined, total


def ingest_cse(
    url: str, target: str | Path, *, origin: str | None = None, notice=None
) -> tuple[list[str], IngestResult, int]:
    """Copy every veil device's records from the CSE at `url` into the store at `target`
    (shape checked, quarantined with reasons, stored once however often it runs), read as
    `origin` (default: the CSE's admin). Returns the devices found, what was ingested and the
    number of records the store then holds."""
    with Cse(CseUrl.parse(url), origin or ADMIN) as c:
        devices = veil_devices(c)
    if not devices:
        raise VeilError(f"no veil device on {url} (or {origin or ADMIN} may not read it)")
    items, _absent = read_devices(url, devices, origin or ADMIN)
    with open_store(target) as store:
        if store.upgraded and notice:
            notice(store.upgraded)
        res = ingest_items(store, items)
        total, _ = store.counts()
    return devices, res, total


def refuse_quarantined(quarantined: list[Rejected]) -> None:
    """Fail, after the valid records were stored, when any message was quarantined."""
    if quarantined:
        first = quarantined[0]
        raise VeilError(
            f"{len(quarantined)} messages quarantined (first, {first.origin}: {first.reason}); "
            "valid records were stored"
        )
