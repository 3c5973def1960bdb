"""The platform's stores (SQLite and PostgreSQL): one row per record however it was
re-encoded, other content kept, and an older store brought up to date (or left alone when
only read)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import sqlite3

import psycopg
import pytest

from veil.feed import parse_message
from veil.owner.decode import decode
from veil.platform.store import open_store

from services import Postgres


@pytest.fixture(scope="module")
def postgres():
    with Postgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A fresh store of each backend: a file path or a database URL."""
    if request.param == "sqlite":
        return str(tmp_path / "p.db")
    pg = request.getfixturevalue("postgres")
    with psycopg.connect(pg.url, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS records, quarantine")
    return pg.url


def _number_texts(text: str) -> list[str]:
    """Four JSON spellings of one number: as published, a trailing zero, exponent form, and
    one that differs only below the decimals any channel has (it rounds to the same value)."""
    x = float(text)
    whole = "." not in text
    return [
        text,
        text + (".0" if whole else "0"),
        f"{x / 10:.12g}e1",
        repr(x + 1e-9),
    ]


def variants(line: bytes, n: int, seed=1) -> list[bytes]:
    """n re-serialisations of one record: every value spelled in one of four ways, the
    channels and the fields in shuffled orders, spaces added."""
    rec = json.loads(line)
    raw_val = json.loads(line, parse_float=str, parse_int=str)["val"]
    spellings = [[(name, t) for t in _number_texts(v)] for name, v in raw_val.items()]
    rng = random.Random(seed)
    out = []
    for combo in itertools.islice(itertools.product(*spellings), n):
        chans = list(combo)
        rng.shuffle(chans)
        val = "{" + ", ".join(f'"{name}": {t}' for name, t in chans) + "}"
        fields = [f'"{k}": {json.dumps(v)}' for k, v in rec.items() if k != "val"]
        fields.append(f'"val": {val}')
        rng.shuffle(fields)
        out.append(("{" + ",".join(fields) + "}").encode())
    return out


def test_a_record_re_encoded_256_ways_is_one_row(genuine, target, figures):
    home, _spec, lines = genuine
    copies = variants(lines[1].strip(), 256)
    assert len(set(copies)) == 256
    records = [parse_message(c) for c in copies]  # each one a valid record
    _readings, report = decode(home.keys(), home.devices(), [("v", r) for r in records])
    assert report.total("verified_real") + report.total("verified_fake") == 1
    assert report.total("duplicated") == 255 and report.clean  # the owner verifies all
    with open_store(target) as s:
        assert s.add(records) == 1
        assert s.add(parse_message(x.strip()) for x in lines[:4]) == 3
        assert s.counts() == (4, 0)
        stored = list(s.records())
    assert stored[0] == records[0]  # the first copy that came is the one kept
    figures(
        f"one record re-encoded 256 ways ({'PostgreSQL' if '://' in target else 'SQLite'})",
        sent=256,
        stored=1,
        quarantined=0,
        lost=0,
        duplicated=0,
        notes="each copy verifies for the owner; stored once",
    )


def test_other_content_in_the_same_slot_is_kept(genuine, target):
    """A record with other readings has another tag (a board restarted at boot 0, or a
    forgery): both rows stay, for the owner to tell apart."""
    _home, _spec, lines = genuine
    rec = parse_message(lines[0].strip())
    forged = json.loads(lines[0])
    forged["val"] = {k: v + 1 for k, v in forged["val"].items()}
    forged["tag"] = "0" * 32
    with open_store(target) as s:
        assert s.add([rec, parse_message(json.dumps(forged).encode())]) == 2


SCHEMA_1 = {
    "sqlite": """
        CREATE TABLE records (
            id INTEGER PRIMARY KEY,
            dev TEXT NOT NULL, ep INTEGER NOT NULL, boot INTEGER NOT NULL,
            seq INTEGER NOT NULL, trk INTEGER NOT NULL, ts INTEGER NOT NULL,
            val TEXT NOT NULL, tag TEXT NOT NULL, received REAL NOT NULL,
            UNIQUE (dev, ep, boot, seq, trk, tag, val));
        CREATE TABLE quarantine (id INTEGER PRIMARY KEY, received REAL NOT NULL,
            origin TEXT NOT NULL, reason TEXT NOT NULL, raw BLOB NOT NULL);""",
    "postgresql": """
        CREATE TABLE records (
            id BIGSERIAL PRIMARY KEY,
            dev TEXT NOT NULL, ep BIGINT NOT NULL, boot BIGINT NOT NULL, seq BIGINT NOT NULL,
            trk INTEGER NOT NULL, ts BIGINT NOT NULL, val TEXT NOT NULL, tag TEXT NOT NULL,
            received DOUBLE PRECISION NOT NULL,
            UNIQUE (dev, ep, boot, seq, trk, tag, val));
        CREATE TABLE quarantine (id BIGSERIAL PRIMARY KEY,
            received DOUBLE PRECISION NOT NULL, origin TEXT NOT NULL, reason TEXT NOT NULL,
            raw BYTEA NOT NULL);""",
}


def _schema_1_store(target, rows):
    """A store as veil wrote it before: unique on the value text too, re-encodings kept."""
    insert = "INSERT INTO records (dev, ep, boot, seq, trk, ts, val, tag, received) VALUES "
    if target.startswith("postgresql://"):
        with psycopg.connect(target, autocommit=True) as c:
            c.execute(SCHEMA_1["postgresql"])
            c.cursor().executemany(insert + "(%s, %s, %s, %s, %s, %s, %s, %s, 0)", rows)
    else:
        with sqlite3.connect(target) as c:
            c.executescript(SCHEMA_1["sqlite"])
            c.executemany(insert + "(?, ?, ?, ?, ?, ?, ?, ?, 0)", rows)
        c.close()


def test_an_older_store_is_upgraded_when_written_and_read_as_it_is(genuine, target):
    _home, _spec, lines = genuine
    recs = [parse_message(x.strip()) for x in lines[:8]]
    extra = [parse_message(v) for v in variants(lines[0].strip(), 5)[1:]]  # 4 re-encodings
    rows = [
        (r.dev, r.ep, r.boot, r.seq, r.trk, r.ts, json.dumps(r.val, separators=(",", ":")), r.tag)
        for r in [*recs, *extra]
    ]
    _schema_1_store(target, rows)
    with open_store(target, create=False) as s:  # decode reads it, changes nothing
        assert s.upgraded is None and s.counts() == (12, 0)
    with open_store(target) as s:  # ingest writes to it: upgraded first, one line says so
        assert s.upgraded.endswith(
            "store upgraded to schema 2 (one row per record slot and tag); "
            "4 re-encoded copies of stored records removed"
        )
        assert s.counts() == (8, 0)
        # a schema-1 store predates protocol v2 and has no version column: its rows read as v1
        assert list(s.records()) == [dataclasses.replace(r, v=1) for r in recs]
        assert s.add(extra) == 0
    with open_store(target) as s:
        assert s.upgraded is None and s.counts() == (8, 0)


def test_decode_reads_an_older_store_in_columns_as_it_is(genuine, target):
    """Opened to be read (as decode opens it), a store from before protocol v2 has no version
    column: its rows come out in columns as v1, as records() gives them, changing nothing."""
    _home, _spec, lines = genuine
    recs = [parse_message(x.strip()) for x in lines[:8]]
    rows = [
        (r.dev, r.ep, r.boot, r.seq, r.trk, r.ts, json.dumps(r.val, separators=(",", ":")), r.tag)
        for r in recs
    ]
    _schema_1_store(target, rows)
    with open_store(target, create=False) as s:
        cols = list(s.columns(3))
        assert s.upgraded is None and s.counts() == (8, 0)
    assert [len(c.dev) for c in cols] == [3, 3, 2]
    assert [c.first for c in cols] == [1, 4, 7]
    got = [
        (d, int(q), t, int(v))
        for c in cols
        for d, q, t, v in zip(c.dev, c.seq, c.tag, c.v, strict=True)
    ]
    assert got == [(r.dev, r.seq, r.tag, 1) for r in recs]
    with open_store(target, create=False) as s:
        assert list(s.records()) == [dataclasses.replace(r, v=1) for r in recs]
