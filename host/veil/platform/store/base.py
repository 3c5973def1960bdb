"""What every store backend shares: the interface ingest writes to and decode reads from, the
row a record is stored as, and the error a store that cannot be written *now* raises. No keys.

A record is stored once per slot and tag, `(dev, ep, boot, seq, trk, tag)`: the tag is an HMAC
over the record's canonical content (docs/protocol.md 4), so every encoding of one record
(`25` or `25.0`, keys in any order, a value that rounds to the same scaled integer, a QoS 1
redelivery, a feed ingested twice) has the same slot and tag and is one row, the first that
came. A record that differs in content has another tag: a board that restarted at boot 0 with
other readings, a forgery; both are kept for the owner to judge. (A copy of a genuine tag
with other content cannot be genuine, so dropping it loses nothing the owner could verify.)
Writes are batched in transactions: a crash leaves whole batches, never a half-written row,
and never touches what was stored before.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ...errors import VeilError
from ...feed import Rejected
from ...protocol import Record

RAW_KEEP = 4096  # bytes of a quarantined message that are kept
SCHEMA_VERSION = 2  # 1: unique on (slot, tag, val text); 2: unique on (slot, tag)
UNIQUE = "dev, ep, boot, seq, trk, tag"


class StoreUnavailable(VeilError):
    """The store cannot take a write now (locked, restarting, unreachable): nothing of the
    batch was written, and the same batch may be tried again."""


class RecordStore(Protocol):
    """What ingest writes to and decode reads from."""

    upgraded: str | None  # what opening it changed in an older store, to tell the user

    def add(self, records: Iterable[Record], rejected: Iterable[Rejected] = ()) -> int:
        """Store a batch atomically; returns how many records were new. StoreUnavailable
        when it could not be written now."""

    def items(self) -> Iterator[tuple[str, Record]]:
        """(origin, record) pairs in arrival order."""

    def records(self) -> Iterator[Record]: ...

    def columns(self, size: int) -> Iterator[RecordColumns]:
        """The records in arrival order, `size` at a time, as columns (the owner's batch
        decode)."""

    def counts(self) -> tuple[int, int]:
        """(records, quarantined)."""

    def quarantined(self) -> list[tuple[str, str]]:
        """(origin, reason) of every quarantined message, oldest first."""

    def close(self) -> None: ...

    def __enter__(self) -> RecordStore: ...

    def __exit__(self, *exc) -> None: ...


@dataclass
class RecordColumns:
    """Stored records as columns, as stored (nothing checked): `first` is the arrival number
    (from 1) of the first, as items() numbers them after `prefix`."""

    prefix: str
    first: int
    dev: list
    ep: np.ndarray
    boot: np.ndarray
    seq: np.ndarray
    trk: np.ndarray
    ts: np.ndarray
    v: np.ndarray
    val: list
    tag: list


def table_columns(prefix: str, first: int, texts, rows: bool = False) -> RecordColumns | None:
    """RecordColumns from a batch's columns (id, ep, boot, seq, trk, ts, v, dev, val, tag):
    each one text (numbers joined by commas, texts by newlines), then None if one does not
    split back into as many rows as ids; or, with `rows`, a sequence per column (as rows were
    read), then VeilError when an integer field holds something else."""
    if not rows:
        if texts[0] is None:
            return RecordColumns(prefix, first, [], *[np.zeros(0, np.int64)] * 6, [], [])
        ids = _ints(texts[0])
        if not len(ids) or (np.diff(ids) <= 0).any():
            return None
        ints = [_ints(t) for t in texts[1:7]]
        if any(len(a) != len(ids) for a in ints):
            return None
        strs = [t.split("\n") for t in texts[7:]]
        if any(len(s) != len(ids) for s in strs):
            return None
        return RecordColumns(prefix, first, strs[0], *ints, strs[1], strs[2])
    if not texts:
        return RecordColumns(prefix, first, [], *[np.zeros(0, np.int64)] * 6, [], [])
    try:
        ints = [np.array(c, dtype=np.int64) for c in texts[1:7]]
    except (TypeError, ValueError, OverflowError):
        raise VeilError(f"store {prefix}: a record has a field that is not an integer") from None
    return RecordColumns(prefix, first, list(texts[7]), *ints, list(texts[8]), list(texts[9]))


def _ints(text: str) -> np.ndarray:
    """The integers of a comma-separated text; an empty array where one is not an integer
    (NumPy stops or fails there; either way the count no longer matches)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.int64, sep=",")
        except ValueError:
            return np.zeros(0, dtype=np.int64)


def rows(records: Iterable[Record], now: float) -> list[tuple]:
    return [
        (r.dev, r.ep, r.boot, r.seq, r.trk, r.ts, val_text(r.val), r.tag, now, r.v) for r in records
    ]


def quarantine_rows(rejected: Iterable[Rejected], now: float) -> list[tuple]:
    """(received, origin, reason, raw) of quarantined messages. Origins can carry what no
    store takes as text (a file name's undecodable bytes): those are escaped."""
    return [(now, _text(x.origin), _text(x.reason), x.raw[:RAW_KEEP]) for x in rejected]


def _text(s: str) -> str:
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def folded(before: int, after: int, name: str) -> str:
    """The line that tells the user an older store was upgraded."""
    return (
        f"{name}: store upgraded to schema {SCHEMA_VERSION} (one row per record slot and tag); "
        f"{before - after} re-encoded copies of stored records removed"
    )


val_text = json.JSONEncoder(separators=(",", ":")).encode
"""A record's values as compact JSON. One encoder for every call: `json.dumps` with options
builds a new one each time."""
