"""What every store backend shares: the interface ingest writes to and decode reads from, and
the row a record is stored as. No keys.

Identical records (QoS 1 redelivery, a feed ingested twice) are stored once; a record that
differs in any field is kept, so that the owner can see tampering. Writes are batched in
transactions: a crash leaves whole batches, never a half-written row, and never touches what
was stored before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Protocol

from ...feed import Rejected
from ...protocol import Record

RAW_KEEP = 4096  # bytes of a quarantined message that are kept


class RecordStore(Protocol):
    """What ingest writes to and decode reads from."""

    def add(self, records: Iterable[Record], rejected: Iterable[Rejected] = ()) -> int:
        """Store a batch atomically; returns how many records were new."""

    def items(self) -> Iterator[tuple[str, Record]]:
        """(origin, record) pairs in arrival order."""

    def records(self) -> Iterator[Record]: ...

    def counts(self) -> tuple[int, int]:
        """(records, quarantined)."""

    def quarantined(self) -> list[tuple[str, str]]:
        """(origin, reason) of every quarantined message, oldest first."""

    def close(self) -> None: ...

    def __enter__(self) -> RecordStore: ...

    def __exit__(self, *exc) -> None: ...


def rows(records: Iterable[Record], now: float) -> list[tuple]:
    return [
        (r.dev, r.ep, r.boot, r.seq, r.trk, r.ts, val_text(r.val), r.tag, now, r.v) for r in records
    ]


val_text = json.JSONEncoder(separators=(",", ":")).encode
"""A record's values as compact JSON: identical records give identical text (stored once).
One encoder for every call: `json.dumps` with options builds a new one each time."""
