"""Hostile messages reaching the ingest service through a real Mosquitto: each is quarantined
with its reason, the service keeps running, and nothing stored before is lost. Two instances
in one shared group split the load and store every record once."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from veil.cli import cli
from veil.platform.mqtt_link import BrokerUrl, connect, make_client
from veil.platform.store import open_store
from veil.platform.store.sqlite import SqliteStore

from netkit import IngestThread
from services import Mosquitto, Postgres


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Mosquitto(tmp_path_factory.mktemp("broker"), devices=["room1", "mallory"]) as b:
        yield b


def publisher(broker, user):
    url = BrokerUrl.parse(f"mqtts://127.0.0.1:{broker.tls_port}")
    c = make_client(url, client_id=f"pub-{user}", user=user,
                    password=broker.files.password(user), ca=broker.files.ca_pem,
                    persistent=False)  # fmt: skip
    connect(c, url)
    c.loop_start()
    return c


def publish(client, topic, payloads):
    for p in payloads:
        client.publish(topic, p, qos=1).wait_for_publish(10)


def test_hostile_messages_are_quarantined_and_the_service_goes_on(broker, genuine, tmp_path):
    _home, _spec, lines = genuine
    good = json.loads(lines[0])
    room1, mallory = publisher(broker, "room1"), publisher(broker, "mallory")
    ingest = IngestThread(broker, tmp_path / "p.db", client_id="hostile")
    hostile = {
        "bad JSON": b"{not json",
        "seq must be": json.dumps({**good, "dev": "mallory", "seq": "12"}).encode(),
        "exceeds": b"{" + b" " * 1_000_000 + b"}",
        "unsupported protocol version": json.dumps({**good, "dev": "mallory", "v": 3}).encode(),
        "on the topic of device mallory": lines[1].strip(),  # room1's record, mallory's topic
    }
    try:
        publish(room1, "veil/room1", [x.strip() for x in lines[:20]])
        assert ingest.wait_for(20).stored == 20
        publish(mallory, "veil/mallory", hostile.values())
        publish(mallory, "veil/room1", [x.strip() for x in lines[40:44]])  # ACL: dropped
        publish(room1, "veil/room1", [x.strip() for x in lines[20:40]])
        res = ingest.wait_for(20 + len(hostile) + 20)
    finally:
        ingest.close()
        room1.loop_stop()
        mallory.loop_stop()
    assert res.stored == 40 and len(res.quarantined) == len(hostile)
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (40, len(hostile))
        reasons = [reason for _origin, reason in s.quarantined()]
        assert {r.seq for r in s.records()} == {json.loads(x)["seq"] for x in lines[:40]}
    for want, got in zip(hostile, reasons, strict=True):
        assert want in got


@pytest.fixture(scope="module")
def postgres():
    with Postgres() as pg:
        yield pg


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_instances_split_the_load_and_store_each_record_once(
    broker, genuine, tmp_path, backend, request
):
    """Two ingest machines in one shared group, one store; the owner decodes from it."""
    home, _spec, lines = genuine
    db = str(tmp_path / "p.db") if backend == "sqlite" else request.getfixturevalue("postgres").url
    a = IngestThread(broker, db, client_id="split-a", group="split")
    b = IngestThread(broker, db, client_id="split-b", group="split")
    room1 = publisher(broker, "room1")
    try:
        publish(room1, "veil/room1", [x.strip() for x in lines])
        end = len(lines)
        while a.service.result.read + b.service.result.read < end:
            a.wait_for(a.service.result.read + 1, timeout=0.2)
    finally:
        a.close()
        b.close()
        room1.loop_stop()
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
