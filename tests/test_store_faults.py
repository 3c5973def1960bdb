"""The ingest service against a store that goes away: a PostgreSQL restart, an SQLite lock held
longer than SQLite waits. The service says so in one line, holds the batch unacknowledged,
retries with backoff, says when the store is back and goes on; nothing is lost, nothing is
stored twice, and a service stopped during the outage leaves its batch to the broker."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from veil.owner.decode import decode
from veil.platform.store import open_store
from veil.platform.store.base import StoreUnavailable

from conftest import wait_for
from netkit import IngestThread, publisher
from services import Mosquitto, Postgres


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Mosquitto(tmp_path_factory.mktemp("broker"), devices=["room1"]) as b:
        yield b


def _stored(ingest) -> int:
    return ingest.service.result.stored


def test_a_postgresql_restart_mid_stream(broker, genuine, figures):
    home, _spec, lines = genuine
    msgs = [x.strip() for x in lines]
    room1 = publisher(broker, "room1")
    with Postgres() as pg:
        ingest = IngestThread(broker, pg.url, client_id="pg-restart")
        try:
            room1.publish_all("veil/room1", msgs[:400])
            wait_for(lambda: _stored(ingest) == 400, timeout=30)
            pg.stop(signal.SIGINT)  # a fast shutdown: the data stays
            room1.publish_all("veil/room1", msgs[400:800])
            ingest.wait_notice("store unavailable", timeout=30)
            pg.start()
            ingest.wait_notice("store back", timeout=60)
            room1.publish_all("veil/room1", msgs[800:])
            wait_for(lambda: _stored(ingest) == len(msgs), timeout=30)
        finally:
            ingest.close()
            room1.close()
        with open_store(pg.url, create=False) as s:
            assert s.counts() == (len(msgs), 0)
            readings, report = decode(home.keys(), home.devices(), s.items())
    figures(
        "PostgreSQL store restarted (fast shutdown) under the ingest service",
        sent=len(msgs),
        stored=len(msgs),
        quarantined=0,
        recovered=f"{len(readings)}/{len(msgs) // 4}",
        lost=0,
        duplicated=report.total("duplicated"),
        notes=f"{ingest.service.result.duplicates} delivered again, stored once",
    )
    outage = [n for n in ingest.notices if "store" in n]
    assert len(outage) == 2, ingest.notices  # one line when it went, one when it came back
    assert outage[0].startswith("store unavailable (PostgreSQL store veil: ")
    assert ingest.service.result.duplicates == 0


def test_an_sqlite_lock_held_past_the_timeout(broker, genuine, tmp_path, figures):
    """SQLite gives up after its busy timeout (30 s by default; 0.5 s here) with "database
    is locked". While it is held the service waits; stopped meanwhile, it ends with the
    error, and the batch it held is what the next start gets first from the broker."""
    _home, _spec, lines = genuine
    msgs = [x.strip() for x in lines]
    db = tmp_path / "p.db"
    room1 = publisher(broker, "room1")
    ingest = IngestThread(broker, db, client_id="sqlite-lock", timeout=0.5)
    locker = sqlite3.connect(db, isolation_level=None)
    try:
        room1.publish_all("veil/room1", msgs[:100])
        wait_for(lambda: _stored(ingest) == 100, timeout=30)
        locker.execute("BEGIN EXCLUSIVE")
        room1.publish_all("veil/room1", msgs[100:200])
        line = ingest.wait_notice("store unavailable", timeout=30)
        assert "database is locked" in line
        locker.execute("ROLLBACK")
        ingest.wait_notice("store back", timeout=30)
        wait_for(lambda: _stored(ingest) == 200, timeout=30)

        locker.execute("BEGIN EXCLUSIVE")  # again, and this time the service is stopped
        room1.publish_all("veil/room1", msgs[200:300])
        wait_for(lambda: sum("unavailable" in n for n in ingest.notices) == 2, timeout=30)
        ingest.stop.set()
        ingest.thread.join(30)
        assert isinstance(ingest.error, StoreUnavailable)
        locker.execute("ROLLBACK")
        again = IngestThread(broker, db, client_id="sqlite-lock")
        try:
            wait_for(lambda: _stored(again) == 100, timeout=30)
        finally:
            again.close()
    finally:
        locker.close()
        room1.close()
    with open_store(db, create=False) as s:
        assert s.counts() == (300, 0)
    figures(
        "SQLite store locked past its timeout, twice; the service stopped during the second",
        sent=300,
        stored=300,
        quarantined=0,
        lost=0,
        duplicated=0,
        notes="the batch held at the stop was stored by the next start, from the broker",
    )
