"""The platform's store in PostgreSQL, so several ingest machines can share one store.

Same tables and rules as the SQLite store (sqlite.py, base.py): one row per record slot and
tag, a batch is one transaction. A batch is copied into a temporary table and merged with
`ON CONFLICT DO NOTHING`, which is both the fast path and what makes concurrent ingesters
agree on duplicates. A lost connection (the server restarting, the network) makes a write
fail with StoreUnavailable; the next write connects again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator

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

MARK = f"veil store schema {SCHEMA_VERSION}"  # the records table's comment
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    id BIGSERIAL PRIMARY KEY,
    dev TEXT NOT NULL, ep BIGINT NOT NULL, boot BIGINT NOT NULL, seq BIGINT NOT NULL,
    trk INTEGER NOT NULL, ts BIGINT NOT NULL, val TEXT NOT NULL, tag TEXT NOT NULL,
    received DOUBLE PRECISION NOT NULL, v INTEGER NOT NULL DEFAULT 1,
    UNIQUE ({UNIQUE})
);
CREATE TABLE IF NOT EXISTS quarantine (
    id BIGSERIAL PRIMARY KEY,
    received DOUBLE PRECISION NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL,
    raw BYTEA NOT NULL
);
"""
_MATCH = " AND ".join(f"a.{c} = b.{c}" for c in UNIQUE.split(", "))
# Schema 1 kept a row per distinct value text: keep the first row of each slot and tag.
UPGRADE = [
    f"DELETE FROM records a USING records b WHERE {_MATCH} AND a.id > b.id",
    "DO $$ DECLARE c text; BEGIN FOR c IN SELECT conname FROM pg_constraint"
    " WHERE conrelid = 'records'::regclass AND contype = 'u' LOOP"
    " EXECUTE format('ALTER TABLE records DROP CONSTRAINT %I', c); END LOOP; END $$",
    f"ALTER TABLE records ADD UNIQUE ({UNIQUE})",
]
_COLUMNS = "dev, ep, boot, seq, trk, ts, val, tag, received, v"
# a store from before protocol v2 has no `v` column: its records are v1
VERSION_COLUMN = "ALTER TABLE records ADD COLUMN IF NOT EXISTS v INTEGER NOT NULL DEFAULT 1"
_LOCK = 0x7665696C  # "veil": serialises schema changes between ingest machines


class PgStore:
    def __init__(self, url: str, *, create: bool = True):
        import psycopg

        self.url = url
        self.name = url.rsplit("/", 1)[-1].split("?")[0] or "postgresql"
        self.upgraded: str | None = None
        self.db = None
        try:
            db = self._connection()
            with db.transaction():
                if create:
                    db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                    self._create(db)
                elif db.execute("SELECT to_regclass('records')").fetchone()[0] is None:
                    raise VeilError(f"no veil store in PostgreSQL database {self.name}")
        except psycopg.OperationalError as e:
            self._drop()
            raise StoreUnavailable(
                f"cannot reach PostgreSQL store {self.name}: {_first_line(e)}"
            ) from None
        except psycopg.Error as e:
            raise VeilError(f"cannot use PostgreSQL store {self.name}: {_first_line(e)}") from None

    def _connection(self):
        """The open connection, or a new one when the last was lost."""
        import psycopg

        if self.db is None or self.db.closed or self.db.broken:
            self._drop()
            self.db = psycopg.connect(self.url, connect_timeout=10)
        return self.db

    def _drop(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def _create(self, db) -> None:
        """Create the tables, or bring a store of an older schema up to date."""
        if db.execute("SELECT to_regclass('records')").fetchone()[0] is None:
            db.execute(SCHEMA)
        else:
            db.execute(VERSION_COLUMN)
            mark = db.execute("SELECT obj_description('records'::regclass, 'pg_class')")
            if mark.fetchone()[0] == MARK:
                return
            before = db.execute("SELECT count(*) FROM records").fetchone()[0]
            for statement in UPGRADE:
                db.execute(statement)
            after = db.execute("SELECT count(*) FROM records").fetchone()[0]
            self.upgraded = folded(before, after, f"PostgreSQL store {self.name}")
        db.execute(f"COMMENT ON TABLE records IS '{MARK}'")

    def add(self, records: Iterable[Record], rejected: Iterable[Rejected] = ()) -> int:
        import psycopg

        now = time.time()
        good, bad = rows(records, now), quarantine_rows(rejected, now)
        try:
            return self._add(self._connection(), good, bad)
        except psycopg.OperationalError as e:  # the server went away: connect next time
            self._drop()
            raise StoreUnavailable(f"PostgreSQL store {self.name}: {_first_line(e)}") from None

    @staticmethod
    def _add(db, good: list[tuple], bad: list[tuple]) -> int:
        with db.transaction():
            added = 0
            if good:
                db.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS batch (LIKE records INCLUDING DEFAULTS)"
                    " ON COMMIT DELETE ROWS"
                )
                with db.cursor() as cur:
                    with cur.copy(f"COPY batch ({_COLUMNS}) FROM STDIN") as copy:
                        for row in good:
                            copy.write_row(row)
                    cur.execute(
                        f"INSERT INTO records ({_COLUMNS}) SELECT {_COLUMNS} FROM batch"
                        " ORDER BY id ON CONFLICT DO NOTHING"
                    )
                    added = cur.rowcount
            if bad:
                with db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO quarantine (received, origin, reason, raw)"
                        " VALUES (%s, %s, %s, %s)",
                        bad,
                    )
        return added

    def records(self) -> Iterator[Record]:
        columns = _COLUMNS.removesuffix("v") + self._version()  # v is the last column
        with self._connection().cursor(name="veil_records") as cur:
            cur.execute(f"SELECT {columns} FROM records ORDER BY id")
            for dev, ep, boot, seq, trk, ts, val, tag, _received, v in cur:
                yield Record(dev, ep, boot, seq, trk, ts, json.loads(val), tag, v)

    def _version(self) -> str:
        """The records' version column, or 1 in a store from before protocol v2 opened only to
        be read (it has no such column)."""
        found = self._connection().execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'records' AND column_name = 'v'"
        )
        return "v" if found.fetchone() else "1"

    def columns(self, size: int) -> Iterator[RecordColumns]:
        """Every stored record in arrival order, as columns of `size` records."""
        first = 1
        v = self._version()
        db = self._connection()
        with db.cursor(name="veil_columns") as cur:
            cur.itersize = size
            cur.execute(
                f"SELECT id, ep, boot, seq, trk, ts, {v}, dev, val, tag FROM records ORDER BY id"
            )
            while batch := cur.fetchmany(size):
                got = table_columns(
                    f"{self.name} #", first, list(zip(*batch, strict=True)), rows=True
                )
                first += len(got.dev)
                yield got
        db.commit()

    def items(self) -> Iterator[tuple[str, Record]]:
        for n, rec in enumerate(self.records(), start=1):
            yield f"{self.name} #{n}", rec

    def counts(self) -> tuple[int, int]:
        db = self._connection()
        n = db.execute("SELECT count(*) FROM records").fetchone()[0]
        q = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        db.commit()
        return n, q

    def quarantined(self) -> list[tuple[str, str]]:
        db = self._connection()
        found = db.execute("SELECT origin, reason FROM quarantine ORDER BY id").fetchall()
        db.commit()
        return found

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or ["unknown error"])[0]
