"""Platform-side ingest: check each message's shape (never its authenticity: no key here),
store records, quarantine everything else with its reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VeilError
from .feed import Rejected, read_feed
from .protocol import Record
from .store import Store

BATCH = 5000


@dataclass
class IngestResult:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: list[Rejected] = field(default_factory=list)


def ingest_items(store: Store, items: Iterable[tuple[str, Record | Rejected]]) -> IngestResult:
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


def ingest_file(store: Store, path: str | Path) -> IngestResult:
    """Ingest one feed file; a file with no record at all is refused as not a feed."""
    res = ingest_items(store, read_feed(path))
    if res.read and len(res.quarantined) == res.read:
        first = res.quarantined[0]
        raise VeilError(f"{path} is not a veil feed ({first.origin}: {first.reason})")
    return res
