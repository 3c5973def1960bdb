"""The platform's store in PostgreSQL, so several ingest machines can share one store.

Same tables and rules as the SQLite store (sqlite.py): identical records are stored once, a
batch is one transaction. A batch is copied into a temporary table and merged with
`ON CONFLICT DO NOTHING`, which is both the fast path and what makes concurrent ingesters
agree on duplicates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator

from ...errors import VeilError
from ...feed import Rejected
from ...protocol import Record
from .base import RAW_KEEP, RecordColumns, rows, table_columns

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id BIGSERIAL PRIMARY KEY,
    dev TEXT NOT NULL, ep BIGINT NOT NULL, boot BIGINT NOT NULL, seq BIGINT NOT NULL,
    trk INTEGER NOT NULL, ts BIGINT NOT NULL, val TEXT NOT NULL, tag TEXT NOT NULL,
    received DOUBLE PRECISION NOT NULL, v INTEGER NOT NULL DEFAULT 1,
    UNIQUE (dev, ep, boot, seq, trk, tag, val, v)
);
ALTER TABLE records ADD COLUMN IF NOT EXISTS v INTEGER NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS quarantine (
    id BIGSERIAL PRIMARY KEY,
    received DOUBLE PRECISION NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL,
    raw BYTEA NOT NULL
);
"""
_COLUMNS = "dev, ep, boot, seq, trk, ts, val, tag, received, v"
_LOCK = 0x7665696C  # "veil": serialises schema creation between ingest machines


class PgStore:
    def __init__(self, url: str, *, create: bool = True):
        import psycopg

        self.url = url
        self.name = url.rsplit("/", 1)[-1].split("?")[0] or "postgresql"
        try:
            self.db = psycopg.connect(url, connect_timeout=10)
            with self.db.transaction():
                if create:
                    self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                    self.db.execute(SCHEMA)
                elif self.db.execute("SELECT to_regclass('records')").fetchone()[0] is None:
                    raise VeilError(f"no veil store in PostgreSQL database {self.name}")
        except psycopg.Error as e:
            raise VeilError(f"cannot use PostgreSQL store {self.name}: {_first_line(e)}") from None

    def add(self, records: Iterable[Record], rejected: Iterable[Rejected] = ()) -> int:
        now = time.time()
        good = rows(records, now)
        bad = [(now, x.origin, x.reason, x.raw[:RAW_KEEP]) for x in rejected]
        with self.db.transaction():
            added = 0
            if good:
                self.db.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS batch (LIKE records INCLUDING DEFAULTS)"
                    " ON COMMIT DELETE ROWS"
                )
                with self.db.cursor() as cur:
                    with cur.copy(f"COPY batch ({_COLUMNS}) FROM STDIN") as copy:
                        for row in good:
                            copy.write_row(row)
                    cur.execute(
                        f"INSERT INTO records ({_COLUMNS}) SELECT {_COLUMNS} FROM batch"
                        " ORDER BY id ON CONFLICT DO NOTHING"
                    )
                    added = cur.rowcount
            if bad:
                with self.db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO quarantine (received, origin, reason, raw)"
                        " VALUES (%s, %s, %s, %s)",
                        bad,
                    )
        return added

    def records(self) -> Iterator[Record]:
        with self.db.cursor(name="veil_records") as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM records ORDER BY id")
            for dev, ep, boot, seq, trk, ts, val, tag, _received, v in cur:
                yield Record(dev, ep, boot, seq, trk, ts, json.loads(val), tag, v)

    def columns(self, size: int) -> Iterator[RecordColumns]:
        """Every stored record in arrival order, as columns of `size` records."""
        first = 1
        with self.db.cursor(name="veil_columns") as cur:
            cur.itersize = size
            cur.execute(
                "SELECT id, ep, boot, seq, trk, ts, v, dev, val, tag FROM records ORDER BY id"
            )
            while batch := cur.fetchmany(size):
                got = table_columns(
                    f"{self.name} #", first, list(zip(*batch, strict=True)), rows=True
                )
                first += len(got.dev)
                yield got
        self.db.commit()

    def items(self) -> Iterator[tuple[str, Record]]:
        for n, rec in enumerate(self.records(), start=1):
            yield f"{self.name} #{n}", rec

    def counts(self) -> tuple[int, int]:
        n = self.db.execute("SELECT count(*) FROM records").fetchone()[0]
        q = self.db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        self.db.commit()
        return n, q

    def quarantined(self) -> list[tuple[str, str]]:
        found = self.db.execute("SELECT origin, reason FROM quarantine ORDER BY id").fetchall()
        self.db.commit()
        return found

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or ["unknown error"])[0]
