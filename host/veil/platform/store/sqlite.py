"""The platform's store in one SQLite file: the embedded default, nothing to install.

Another process holding the file's write lock for longer than `timeout` seconds (SQLite's
busy timeout) makes a write fail with StoreUnavailable; the ingest service waits it out."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...errors import VeilError
from ...feed import Rejected
from ...protocol import Record
from .base import (
    SCHEMA_VERSION,
    UNIQUE,
    RecordColumns,
    StoreUnavailable,
    folded,
    quarantine_rows,
    rows,
    table_columns,
)

RECORDS = f"""
CREATE TABLE IF NOT EXISTS {{table}} (
    id INTEGER PRIMARY KEY,
    dev TEXT NOT NULL, ep INTEGER NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL,
    trk INTEGER NOT NULL, ts INTEGER NOT NULL, val TEXT NOT NULL, tag TEXT NOT NULL,
    received REAL NOT NULL, v INTEGER NOT NULL DEFAULT 1,
    UNIQUE ({UNIQUE})
);
"""
SCHEMA = (
    RECORDS.format(table="records")
    + """
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    received REAL NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL, raw BLOB NOT NULL
);
"""
)
# One batch of records as one text per column, in id order (a range scan of the primary key,
# checked by the ids): the sqlite3 module builds a tuple per row, which costs more than the
# decode of the row. `{v}` is the version column, or 1 in a store from before protocol v2.
COLUMNS = (
    "SELECT group_concat(id), group_concat(ep), group_concat(boot), group_concat(seq),"
    " group_concat(trk), group_concat(ts), group_concat({v}), group_concat(dev, char(10)),"
    " group_concat(val, char(10)), group_concat(tag, char(10))"
    " FROM records WHERE id BETWEEN ? AND ?"
)
ROWS = (
    "SELECT id, ep, boot, seq, trk, ts, {v}, dev, val, tag FROM records"
    " WHERE id BETWEEN ? AND ? ORDER BY id"
)
INSERT_RECORD = (
    "INSERT OR IGNORE INTO records (dev, ep, boot, seq, trk, ts, val, tag, received, v)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Schema 1 kept a row per distinct value text: keep the first row of each slot and tag.
UPGRADE = (
    "BEGIN IMMEDIATE;"
    + RECORDS.format(table="records_v2")
    + f"INSERT INTO records_v2 SELECT * FROM records WHERE id IN"
    f" (SELECT min(id) FROM records GROUP BY {UNIQUE}) ORDER BY id;"
    "DROP TABLE records; ALTER TABLE records_v2 RENAME TO records;"
    f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
)


class SqliteStore:
    """SQLite file store; created on first use unless `create` is False (then only read,
    and an older schema is read as it is)."""

    def __init__(self, path: str | Path, *, create: bool = True, timeout: float = 30):
        self.path = Path(path)
        self.upgraded: str | None = None
        if not create and not self.path.is_file():
            raise VeilError(f"no store at {self.path}")
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            if create:
                self._create()
            elif not self._has_records():
                raise VeilError(f"{self.path} is not a veil store (it has no records table)")
        except sqlite3.OperationalError as e:
            raise StoreUnavailable(f"cannot open store {self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise VeilError(f"{self.path} is not a usable veil store: {e}") from None

    def _create(self) -> None:
        """Create the tables, or bring a store of an older schema up to date."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise VeilError(f"{self.path} was written by a newer veil (schema {version})")
        if self._has_records():
            self._add_version_column()
        if version < SCHEMA_VERSION and self._has_records():
            before = self.db.execute("SELECT count(*) FROM records").fetchone()[0]
            self.db.executescript(UPGRADE)
            after = self.db.execute("SELECT count(*) FROM records").fetchone()[0]
            self.upgraded = folded(before, after, str(self.path))
        self.db.executescript(SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")

    def _add_version_column(self) -> None:
        """A store from before protocol v2 has no `v` column: its records are v1."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(records)")}
        if "v" not in columns:
            self.db.execute("ALTER TABLE records ADD COLUMN v INTEGER NOT NULL DEFAULT 1")

    def _has_records(self) -> bool:
        return bool(
            self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'"
            ).fetchone()
        )

    def add(self, records: Iterable[Record], rejected: Iterable[Rejected] = ()) -> int:
        """Store a batch in one transaction; returns how many records were new."""
        now = time.time()
        good, bad = rows(records, now), quarantine_rows(rejected, now)
        try:
            with self.db:
                before = self.db.total_changes
                self.db.executemany(INSERT_RECORD, good)
                added = self.db.total_changes - before
                self.db.executemany(
                    "INSERT INTO quarantine (received, origin, reason, raw) VALUES (?, ?, ?, ?)",
                    bad,
                )
        except sqlite3.OperationalError as e:  # locked past the busy timeout, disk full, …
            raise StoreUnavailable(f"SQLite store {self.path}: {e}") from None
        return added

    def records(self) -> Iterator[Record]:
        """Every stored record in arrival order."""
        v = "v" if self._has_version() else "1"  # a store opened read-only from before v2
        cur = self.db.execute(
            f"SELECT dev, ep, boot, seq, trk, ts, val, tag, {v} FROM records ORDER BY id"
        )
        for dev, ep, boot, seq, trk, ts, val, tag, version in cur:
            yield Record(dev, ep, boot, seq, trk, ts, json.loads(val), tag, version)

    def _has_version(self) -> bool:
        return any(row[1] == "v" for row in self.db.execute("PRAGMA table_info(records)"))

    def columns(self, size: int) -> Iterator[RecordColumns]:
        """Every stored record in arrival order, as columns of about `size` records."""
        lo, hi = self.db.execute("SELECT min(id), max(id) FROM records").fetchone()
        v = "v" if self._has_version() else "1"  # a store opened read-only from before v2
        columns, by_rows = COLUMNS.format(v=v), ROWS.format(v=v)
        first = 1
        for a in range(lo or 1, (hi or 0) + 1, size):
            texts = self.db.execute(columns, (a, a + size - 1)).fetchone()
            prefix = f"{self.path.name} #"
            got = table_columns(prefix, first, texts)
            if got is None:  # a text that does not split back into its rows: row by row
                cur = self.db.execute(by_rows, (a, a + size - 1))
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
