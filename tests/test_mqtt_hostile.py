"""Hostile clients of a real Mosquitto set up by `veil broker`: messages that reach the ingest
service are quarantined with their reason, the service keeps running, and nothing stored
before is lost; what the broker's limits are for (an oversized packet, a retained message, a
connection without keep-alive) is refused before it reaches anyone. Two ingests given one
client id do not take the session from each other in a loop: the one taken over stops with
one line. Two instances in one shared group split the load and store every record once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from veil.cli import cli
from veil.platform.store import open_store
from veil.platform.store.sqlite import SqliteStore

from conftest import wait_for
from netkit import IngestThread, publisher
from services import Mosquitto, Postgres


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Mosquitto(tmp_path_factory.mktemp("broker"), devices=["room1", "mallory"]) as b:
        yield b


def test_hostile_messages_are_quarantined_and_the_service_goes_on(
    broker, genuine, tmp_path, figures
):
    _home, _spec, lines = genuine
    good = json.loads(lines[0])
    room1, mallory = publisher(broker, "room1"), publisher(broker, "mallory")
    ingest = IngestThread(broker, tmp_path / "p.db", client_id="hostile")
    hostile = {
        "bad JSON": b"{not json",
        "seq must be": json.dumps({**good, "dev": "mallory", "seq": "12"}).encode(),
        "exceeds": b"{" + b" " * 4200 + b"}",  # a packet the broker takes, too big a record
        "unsupported protocol version": json.dumps({**good, "dev": "mallory", "v": 3}).encode(),
        "on the topic of device mallory": lines[1].strip(),  # room1's record, mallory's topic
    }
    try:
        room1.publish_all("veil/room1", [x.strip() for x in lines[:20]])
        assert ingest.wait_for(20).stored == 20
        mallory.publish_all("veil/mallory", hostile.values())
        mallory.publish_all("veil/room1", [x.strip() for x in lines[40:44]])  # ACL: dropped
        room1.publish_all("veil/room1", [x.strip() for x in lines[20:40]])
        res = ingest.wait_for(20 + len(hostile) + 20)
    finally:
        ingest.close()
        room1.close()
        mallory.close()
    assert res.stored == 40 and len(res.quarantined) == len(hostile)
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (40, len(hostile))
        reasons = [reason for _origin, reason in s.quarantined()]
        assert {r.seq for r in s.records()} == {json.loads(x)["seq"] for x in lines[:40]}
    for want, got in zip(hostile, reasons, strict=True):
        assert want in got
    figures(
        "hostile messages over MQTT: bad JSON, wrong types, a 4 KB+ payload, protocol v2, "
        "another device's record",
        sent=40 + len(hostile) + 4,
        stored=40,
        quarantined=len(hostile),
        lost=0,
        duplicated=0,
        notes="4 published to another device's topic were refused by the broker's ACL",
    )


@pytest.fixture(scope="module")
def postgres():
    with Postgres() as pg:
        yield pg


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_instances_split_the_load_and_store_each_record_once(
    broker, genuine, tmp_path, backend, request, figures
):
    """Two ingest machines in one shared group, one store; the owner decodes from it."""
    home, _spec, lines = genuine
    db = str(tmp_path / "p.db") if backend == "sqlite" else request.getfixturevalue("postgres").url
    a = IngestThread(broker, db, client_id="split-a", group="split")
    b = IngestThread(broker, db, client_id="split-b", group="split")
    room1 = publisher(broker, "room1")
    try:
        room1.publish_all("veil/room1", [x.strip() for x in lines])
        wait_for(lambda: a.service.result.read + b.service.result.read >= len(lines), 60)
    finally:
        a.close()
        b.close()
        room1.close()
    ra, rb = a.service.result, b.service.result
    assert ra.read > 0 and rb.read > 0 and ra.read + rb.read == len(lines)
    with open_store(db, create=False) as s:
        assert s.counts() == (len(lines), 0)
    out = tmp_path / "real.csv"
    r = CliRunner().invoke(
        cli, ["decode", "--home", str(home.path), "--store", db, "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert f"{len(lines) // 4} real readings" in r.output
    figures(
        f"two ingest services in one shared group, one {backend} store",
        sent=len(lines),
        stored=len(lines),
        quarantined=0,
        recovered=f"{len(lines) // 4}/{len(lines) // 4}",
        lost=0,
        duplicated=0,
        notes=f"split {ra.read}/{rb.read}",
    )


def test_a_stranger_cannot_log_in_or_listen(broker):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="anon")
    c.tls_set(ca_certs=str(broker.files.ca_pem))
    answers = []
    c.on_connect = lambda *a: answers.append(a[3])
    c.connect("127.0.0.1", broker.tls_port)
    for _ in range(50):
        if answers:
            break
        c.loop(0.1)
    assert answers and answers[0].is_failure


def _rss(proc) -> int:
    """Resident memory of a process, in bytes."""
    status = Path(f"/proc/{proc.pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS:")).split()[1]) * 1024


def _device_client(broker, user):
    """A client logged in as a device (MQTT 3.1.1, as boards speak), noting how it ends."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-{user}")
    c.username_pw_set(user, broker.files.password(user))
    c.tls_set(ca_certs=str(broker.files.ca_pem))
    c.answers, c.ends = [], []
    c.on_connect = lambda _c, _u, _f, rc, _p: c.answers.append(rc)
    c.on_disconnect = lambda _c, _u, _f, rc, _p: c.ends.append(rc)
    c.connect("127.0.0.1", broker.tls_port)
    c.loop_start()
    wait_for(lambda: c.answers or c.ends)
    return c


def test_the_broker_refuses_what_a_device_could_abuse(broker, genuine, tmp_path, figures):
    """A device's credentials do not let it make the broker hold 50 MB, or retain a message
    every new subscriber gets first."""
    _home, _spec, lines = genuine
    ingest = IngestThread(broker, tmp_path / "p.db", client_id="limits")
    try:
        before = _rss(broker.proc)
        big = _device_client(broker, "mallory")
        big.publish("veil/mallory", b"{" + b" " * 50_000_000 + b"}", qos=1)
        wait_for(lambda: big.ends, timeout=30)
        grew = _rss(broker.proc) - before
        assert grew < 5_000_000
        retained = _device_client(broker, "mallory")
        retained.publish("veil/mallory", lines[0].strip(), qos=1, retain=True)
        wait_for(lambda: retained.ends, timeout=30)
        room1 = publisher(broker, "room1")
        room1.publish_all("veil/room1", [x.strip() for x in lines[:4]])
        res = ingest.wait_for(4)
        for c in (big, retained):
            c.loop_stop()
        room1.close()
    finally:
        ingest.close()
    assert (res.read, res.stored) == (4, 4)  # neither the big nor the retained one came
    later = IngestThread(broker, tmp_path / "q.db", client_id="limits-later")
    try:
        publisher(broker, "room1").publish_all("veil/room1", [lines[4].strip()])
        assert later.wait_for(1).read == 1
        assert later.service.result.stored == 1  # the first message it got: no retained one
    finally:
        later.close()
    figures(
        "a device publishes 50 MB, and a retained record",
        sent=2 + 5,
        stored=5,
        quarantined=0,
        lost=0,
        duplicated=0,
        notes=f"both refused by the broker, the device disconnected; broker grew {grew:,} bytes",
    )


def test_two_ingests_with_one_client_id_do_not_fight(broker, tmp_path, figures):
    """Each takes the session from the other when it reconnects; after a few rounds one of
    them stops with one line instead of going on for ever, and the other keeps the session."""
    cmd = [sys.executable, "-m", "veil.cli", "ingest", f"mqtts://127.0.0.1:{broker.tls_port}",
           "--ca", str(broker.files.ca_pem), "--user", "ingest", "--password-file",
           str(broker.folder / "passwords" / "ingest"), "--client-id", "twin",
           "--store", str(tmp_path / "p.db")]  # fmt: skip
    log = broker.folder / "log"
    connects = log.read_text().count(" as twin ")

    def ingest():
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = [ingest()]
    try:
        wait_for(lambda: log.read_text().count(" as twin ") == connects + 1, timeout=30)
        procs.append(ingest())
        wait_for(lambda: any(p.poll() is not None for p in procs), timeout=30)
        [gone] = [p for p in procs if p.poll() is not None]
        _out, err = gone.communicate(timeout=30)
        rounds = log.read_text().count(" as twin ") - connects
        assert all(p.poll() is None for p in procs if p is not gone)  # the other goes on
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.communicate(timeout=30)
    assert gone.returncode == 1
    assert err.strip().splitlines()[-1] == (
        f"veil: error: another client is logged in to 127.0.0.1:{broker.tls_port} with client "
        "id twin (closed this session 3 times as soon as it was made): give each ingest "
        "instance its own --client-id"
    )
    assert "Traceback" not in err
    assert rounds <= 7, f"{rounds} logins with one client id"
    figures(
        "two ingest services given one client id",
        notes=f"{rounds} logins in all, then one stopped with one line",
    )
