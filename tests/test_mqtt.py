"""MQTT end to end with real components: the firmware on the virtual board publishes over TLS
to a real Mosquitto with per-device passwords, `veil ingest` stores, the owner decodes every
reading bit-exact, live and from the store. The broker refuses strangers."""

from __future__ import annotations

import csv
import json
import ssl
import subprocess
import sys
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest

from veil import dataset
from veil.platform.mqtt_link import BrokerUrl, LinkError, connect, make_client
from veil.platform.store.sqlite import SqliteStore

from conftest import ROOM, ROOM_CHANNELS
from netkit import IngestThread, owner_check, publish_from_vboard
from services import Mosquitto

ROWS = 300


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Mosquitto(tmp_path_factory.mktemp("broker"), devices=["room1", "mallory"]) as b:
        yield b


@pytest.fixture(scope="module")
def series():
    return dataset.load(ROOM, channels=ROOM_CHANNELS, limit=ROWS)


def test_vboard_to_ingest_to_owner_bit_exact(broker, series, home, tmp_path):
    ingest = IngestThread(broker, tmp_path / "p.db", client_id="e2e")
    try:
        log = publish_from_vboard(home, series, broker)
        res = ingest.wait_for(4 * ROWS)
    finally:
        ingest.close()
    assert any("mqtt connected" in line for line in log), log
    assert (res.read, res.stored, len(res.quarantined)) == (4 * ROWS, 4 * ROWS, 0)
    exact, report = owner_check(home, tmp_path / "p.db", series)
    assert exact == ROWS and report.clean
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.counts() == (4 * ROWS, 0)


def test_live_decode_follows_the_broker(broker, series, home, tmp_path):
    """`veil decode --follow` prints the real readings while the board publishes."""
    publish_from_vboard(home, series, broker)  # defines the device in the home
    follower = subprocess.Popen(
        [sys.executable, "-m", "veil.cli", "decode", "--home", str(home.path), "--follow",
         f"mqtts://127.0.0.1:{broker.tls_port}", "--ca", str(broker.files.ca_pem),
         "--user", "owner", "--password-file", str(broker.folder / "passwords" / "owner"),
         "--limit", str(ROWS), "--idle", "30", "--out", str(tmp_path / "live.csv"),
         "--report", str(tmp_path / "live.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert follower.stdout.readline().startswith("following")
        publish_from_vboard(home, series, broker)
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert f"{ROWS} real readings" in out
    with (tmp_path / "live.csv").open() as f:
        got = [[Decimal(r[c]) for c in ROOM_CHANNELS] for r in csv.DictReader(f)]
    with ROOM.open() as f:
        want = [[Decimal(r[c]) for c in ROOM_CHANNELS] for r in list(csv.DictReader(f))[:ROWS]]
    assert got == want
    assert json.loads((tmp_path / "live.json").read_text())["clean"]


def _client(broker, user, password, ca):
    url = BrokerUrl.parse(f"mqtts://127.0.0.1:{broker.tls_port}")
    c = make_client(url, client_id=f"t-{user}", user=user, password=password, ca=ca,
                    persistent=False)  # fmt: skip
    connect(c, url, timeout=5)
    return c


def test_broker_refuses_a_wrong_password(broker):
    with pytest.raises(LinkError, match="refused"):
        _client(broker, "room1", "not-the-password", broker.files.ca_pem)


def test_broker_refuses_a_client_that_does_not_trust_its_ca(broker, tmp_path):
    """A client verifying against the system CAs (not the broker's) never completes TLS."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="noca")
    c.username_pw_set("room1", broker.files.password("room1"))
    c.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect("127.0.0.1", broker.tls_port)


def test_firmware_with_a_wrong_password_is_refused_and_keeps_its_outbox(broker, home):
    five = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=5)
    log = publish_from_vboard(home, five, broker, drain_ms=500, user="room1-typo")
    text = "\n".join(log)
    assert "broker refused: not authorised" in text  # Mosquitto answers 5 to 3.1.1 clients
    assert "stopping with 20 messages kept in the outbox" in text
    assert broker.files.password("room1") not in text


def _follow(home, broker, user, tmp_path, *extra):
    return subprocess.run(
        [sys.executable, "-m", "veil.cli", "decode", "--home", str(home.path), "--follow",
         f"mqtts://127.0.0.1:{broker.tls_port}", "--ca", str(broker.files.ca_pem),
         "--user", user, "--password-file", str(broker.folder / "passwords" / user),
         "--out", str(tmp_path / "live.csv"), *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_live_decode_with_a_devices_credentials_says_why_it_reads_nothing(
    broker, series, home, tmp_path
):
    """Issue 10 item 9: a device may only publish; following as one reads nothing."""
    publish_from_vboard(home, series, broker)  # defines room1 in the home
    p = _follow(home, broker, "room1", tmp_path, "--idle", "1")
    assert p.returncode != 0
    assert "user room1 is a device of this home" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_live_decode_that_receives_nothing_fails_with_the_reason(broker, series, home, tmp_path):
    """mallory is a device of the broker but not of this home: the broker delivers it nothing."""
    publish_from_vboard(home, series, broker)
    p = _follow(home, broker, "mallory", tmp_path, "--idle", "1")
    assert p.returncode != 0
    assert "nothing could be read: no message arrived on veil/#" in p.stderr
    assert "0 real readings" in p.stdout
