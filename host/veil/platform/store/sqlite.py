"""The platform's store in one SQLite file: the embedded default, nothing to install."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...errors import VeilError
from ...feed import Rejected
from ...protocol import Record
from .base import RAW_KEEP, RecordColumns, rows, table_columns

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    dev TEXT NOT NULL, ep INTEGER NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL,
    trk INTEGER NOT NULL, ts INTEGER NOT NULL, val TEXT NOT NULL, tag TEXT NOT NULL,
    received REAL NOT NULL, v INTEGER NOT NULL DEFAULT 1,
    UNIQUE (dev, ep, boot, seq, trk, tag, val, v)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    received REAL NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL, raw BLOB NOT NULL
);
"""
# One batch of records as one text per column, in id order (a range scan of the primary key,
# checked by the ids): the sqlite3 module builds a tuple per row, which costs more than the
# decode of the row.
COLUMNS = (
    "SELECT group_concat(id), group_concat(ep), group_concat(boot), group_concat(seq),"
    " group_concat(trk), group_concat(ts), group_concat(v), group_concat(dev, char(10)),"
    " group_concat(val, char(10)), group_concat(tag, char(10))"
    " FROM records WHERE id BETWEEN ? AND ?"
)
INSERT_RECORD = (
    "INSERT {verb} INTO records (dev, ep, boot, seq, trk, ts, val, tag, received, v)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}){tail}"
)


class SqliteStore:
    """SQLite file store; created on first use unless `create` is False."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise VeilError(f"no store at {self.path}")
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(records)")}
            if "v" not in columns:  # a store from before protocol v2: its records are v1
                self.db.execute("ALTER TABLE records ADD COLUMN v INTEGER NOT NULL DEFAULT 1")
        except sqlite3.DatabaseError as e:
            raise VeilError(f"{self.path} is not a usable veil store: {e}") from None

    def add(self, records: Iterable[Record], rejected: Iterable[Rejected] = ()) -> int:
        """Store a batch in one transaction; returns how many records were new."""
        now = time.time()
        good = rows(records, now)
        bad = [(now, x.origin, x.reason, x.raw[:RAW_KEEP]) for x in rejected]
        with self.db:
            before = self.db.total_changes
            self.db.executemany(INSERT_RECORD.format(verb="OR IGNORE", p="?", tail=""), good)
            added = self.db.total_changes - before
            self.db.executemany(
                "INSERT INTO quarantine (received, origin, reason, raw) VALUES (?, ?, ?, ?)", bad
            )
        return added

    def records(self) -> Iterator[Record]:
        """Every stored record in arrival order."""
        cur = self.db.execute(
            "SELECT dev, ep, boot, seq, trk, ts, val, tag, v FROM records ORDER BY id"
        )
        for dev, ep, boot, seq, trk, ts, val, tag, v in cur:
            yield Record(dev, ep, boot, seq, trk, ts, json.loads(val), tag, v)

    def columns(self, size: int) -> Iterator[RecordColumns]:
        """Every stored record in arrival order, as columns of about `size` records."""
        lo, hi = self.db.execute("SELECT min(id), max(id) FROM records").fetchone()
        first = 1
        for a in range(lo or 1, (hi or 0) + 1, size):
            texts = self.db.execute(COLUMNS, (a, a + size - 1)).fetchone()
            prefix = f"{self.path.name} #"
            got = table_columns(prefix, first, texts)
            if got is None:  # a text that does not split back into its rows: row by row
                cur = self.db.execute(
                    "SELECT id, ep, boot, seq, trk, ts, v, dev, val, tag FROM records"
                    " WHERE id BETWEEN ? AND ? ORDER BY id",
                    (a, a + size - 1),
                )
                got = table_columns(
                    prefix, first, list(zip(*cur.fetchall(), strict=True)), rows=True
                )
            if got.dev:
                first += len(got.dev)
                yield got

    def items(self) -> Iterator[tuple[str, Record]]:
        """(origin, record) pairs, as decode takes them from any source."""
        for n, rec in enumerate(self.records(), start=1):
            yield f"{self.path.name} #{n}", rec

    def counts(self) -> tuple[int, int]:
        """(records, quarantined)."""
        n = self.db.execute("SELECT count(*) FROM records").fetchone()[0]
        q = self.db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        return n, q

    def quarantined(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT origin, reason FROM quarantine ORDER BY id").fetchall()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
