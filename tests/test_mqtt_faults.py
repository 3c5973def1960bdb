"""Faults on the MQTT path, with the real firmware on the virtual board, real Mosquitto and the
real ingest service: the broker restarted mid-stream, the ingest service killed, the board's
link cut. Afterwards every record that fit the outbox is stored exactly once and the owner
recovers every reading bit-exact; an outbox too small for the outage drops the oldest records
and counts them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from veil import dataset
from veil.owner.decode import decode
from veil.platform.store.sqlite import SqliteStore

from conftest import ROOM, ROOM_CHANNELS
from netkit import BoardThread, IngestThread, Relay, owner_check, publish_from_vboard
from services import Mosquitto

ROWS = 500
SPEED = 3000  # the data's 30 s between rows become 10 ms: a 5 s stream


@pytest.fixture
def broker(tmp_path):
    with Mosquitto(tmp_path / "broker", devices=["room1"]) as b:
        yield b


@pytest.fixture(scope="module")
def series():
    return dataset.load(ROOM, channels=ROOM_CHANNELS, limit=ROWS)


def start_board(home, series, broker, **kw):
    """The virtual board publishing in (sped-up) real time while the test breaks things."""
    return BoardThread(publish_from_vboard, home, series, broker, speed=SPEED, **kw)


def stored(db):
    with SqliteStore(db) as s:
        return s.counts()


def wait_stored(db, n, timeout=30):
    end = time.monotonic() + timeout
    while stored(db)[0] < n and time.monotonic() < end:
        time.sleep(0.1)
    return stored(db)


def test_broker_stopped_mid_stream_and_restarted(broker, series, home, tmp_path):
    """The exclusive subscription: Mosquitto 2.0.11 restores it after a restart (not a shared
    one), so records that reach the restarted broker before ingest is back wait for it."""
    db = tmp_path / "p.db"
    ingest = IngestThread(broker, db)
    try:
        board = start_board(home, series, broker)
        time.sleep(2)
        broker.stop()
        time.sleep(1.5)
        broker.start()
        log = board.finish()
        assert wait_stored(db, 4 * ROWS) == (4 * ROWS, 0)
    finally:
        ingest.close()
    assert "mqtt link down" in log and log.count("mqtt connected") >= 2, log
    exact, report = owner_check(home, db, series)
    assert exact == ROWS and report.clean


def test_ingest_killed_and_restarted(broker, series, home, tmp_path):
    db = tmp_path / "p.db"
    cmd = [sys.executable, "-m", "veil.cli", "ingest", f"mqtts://127.0.0.1:{broker.tls_port}",
           "--ca", str(broker.files.ca_pem), "--user", "ingest", "--password-file",
           str(broker.folder / "passwords" / "ingest"), "--client-id", "ingest-a",
           "--store", str(db)]  # fmt: skip

    def service():
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = service()
    try:
        time.sleep(1.5)  # connected and subscribed
        board = start_board(home, series, broker)
        time.sleep(2)
        first.send_signal(signal.SIGKILL)
        first.wait()
        before = stored(db)[0]
        time.sleep(1)
        second = service()
        board.finish()
        after = wait_stored(db, 4 * ROWS)
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=30)
    finally:
        for p in (first, locals().get("second")):
            if p and p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
    assert 0 < before < 4 * ROWS, "the service was not killed mid-stream"
    assert after == (4 * ROWS, 0)
    assert second.returncode == 0, err
    m = re.search(r"(\d+) messages, (\d+) stored, (\d+) already stored, 0 quarantined", out)
    assert m and int(m.group(2)) == 4 * ROWS - before, out
    exact, report = owner_check(home, db, series)
    assert exact == ROWS and report.clean


def test_board_loses_its_link_for_a_while(broker, series, home, tmp_path):
    db = tmp_path / "p.db"
    relay = Relay(broker.tls_port)
    ingest = IngestThread(broker, db)
    try:
        board = start_board(home, series, broker, port=relay.port)
        time.sleep(1.5)
        relay.cut()
        time.sleep(2)
        relay.restore()
        log = board.finish()
        assert wait_stored(db, 4 * ROWS) == (4 * ROWS, 0)
    finally:
        ingest.close()
        relay.close()
    assert "mqtt link down" in log and log.count("mqtt connected") >= 2, log
    exact, report = owner_check(home, db, series)
    assert exact == ROWS and report.clean


def test_an_outage_longer_than_the_outbox_drops_the_oldest_and_counts_them(
    broker, series, home, tmp_path
):
    """The link breaks mid-stream for longer than the outbox holds. The owner's report shows
    exactly what the board dropped (its drop reports, hidden in the real records' tags), the
    readings in the gap as dropped by the device rather than missing, and every reading that
    got through bit-exact."""
    db = tmp_path / "p.db"
    relay = Relay(broker.tls_port)
    ingest = IngestThread(broker, db)
    try:
        board = start_board(home, series, broker, port=relay.port, spool_records=40)
        wait_stored(db, 40)
        relay.cut()
        time.sleep(2.5)
        relay.restore()
        log = board.finish()
        dropped = int(re.search(r"mqtt outbox dropped (\d+) records in all", log).group(1))
        assert dropped > 40
        wait_stored(db, 4 * ROWS - dropped)
        time.sleep(0.5)  # anything more would arrive now
        n, quarantined = stored(db)
    finally:
        ingest.close()
        relay.close()
    # Records in flight when the link broke may have reached the broker before the outbox
    # dropped them (protocol 6, limits): at most the publisher's window of 32.
    assert quarantined == 0 and 0 <= n - (4 * ROWS - dropped) <= 32
    with SqliteStore(db) as s:
        seqs = {r.seq for r in s.records()}
        readings, report = decode(home.keys(), home.devices(), s.items())
    gap = sorted(set(range(ROWS)) - seqs)
    assert gap == list(range(gap[0], gap[-1] + 1)), "one run, the oldest queued, was dropped"
    dev = report.devices["room1"]
    assert dev.dropped_by_device == dropped
    assert (dev.counts["missing"], dev.counts["missing_dropped"]) == (0, ROWS - len(readings))
    assert report.clean
    for r in readings:
        assert (r.ts, list(r.values)) == (series.times[r.seq], series.rows[r.seq])
