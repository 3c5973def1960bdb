"""Poison messages: deeply nested JSON (which makes Python's json parser recurse until it
gives up) and the other messages a device can send that are no record. Every path that reads
them (the feed parser, `veil ingest FILE`, the MQTT ingest service, `veil decode FILE`,
`veil decode --follow`) quarantines or reports them with a reason, keeps going and loses
nothing stored before."""

from __future__ import annotations

import json
import threading

import pytest

from veil.feed import parse_message
from veil.owner.live import follow
from veil.platform.store.sqlite import SqliteStore
from veil.protocol import MalformedRecord

from conftest import veil_cli
from netkit import IngestThread, publisher
from services import Mosquitto

NESTED = b"[" * 2000 + b"]" * 2000
POISON = {
    "nested too deeply": NESTED,
    "nested too deeply ": b'{"v":' + b"[" * 1500 + b"]" * 1500 + b"}",  # inside an object
    "not a JSON object": b"[" * 20 + b"]" * 20,
}


@pytest.mark.parametrize("raw", POISON.values(), ids=list(POISON))
def test_the_parser_names_poison(raw):
    with pytest.raises(MalformedRecord, match=r"nested too deeply|not a JSON object"):
        parse_message(raw)


def test_ingest_and_decode_of_a_poisoned_file(genuine, tmp_path, figures):
    home, _spec, lines = genuine
    feed = tmp_path / "poisoned.jsonl"
    feed.write_bytes(b"".join(lines[:8]) + NESTED + b"\n" + b"".join(lines[8:16]))
    db = tmp_path / "p.db"
    p = veil_cli("ingest", feed, "--store", db, cwd=tmp_path, check=False)
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip().splitlines() == [
        "veil: error: 1 messages quarantined (first, poisoned.jsonl:9: JSON nested too deeply);"
        " valid records were stored"
    ]
    with SqliteStore(db) as s:
        assert s.counts() == (16, 1)
    report = tmp_path / "r.json"
    p = veil_cli("decode", "--home", home.path, feed, "--out", tmp_path / "r.csv",
                 "--report", report, cwd=tmp_path, check=False)  # fmt: skip
    assert p.returncode == 3, p.stderr
    assert "Traceback" not in p.stderr
    got = json.loads(report.read_text())["devices"]
    assert got["-"]["malformed"] == 1
    figures(
        "JSON nested 2,000 deep in a feed file (ingest, decode)",
        sent=17,
        stored=16,
        quarantined=1,
        recovered=f"{got['room1']['verified_real']}/4",
        lost=0,
        duplicated=0,
    )


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Mosquitto(tmp_path_factory.mktemp("broker"), devices=["room1"]) as b:
        yield b


def test_the_ingest_service_quarantines_poison_and_goes_on(broker, genuine, tmp_path, figures):
    """Poison from a device's own credentials, between genuine records: quarantined (and so
    acknowledged: it is not redelivered to kill the next start), the service goes on."""
    _home, _spec, lines = genuine
    room1 = publisher(broker, "room1")
    db = tmp_path / "p.db"
    ingest = IngestThread(broker, db, client_id="poisoned")
    try:
        room1.publish_all("veil/room1", [x.strip() for x in lines[:4]])
        room1.publish_all("veil/room1", list(POISON.values()))
        room1.publish_all("veil/room1", [x.strip() for x in lines[4:8]])
        res = ingest.wait_for(8 + len(POISON))
        assert ingest.error is None
    finally:
        ingest.close()
    assert (res.stored, len(res.quarantined)) == (8, len(POISON))
    again = IngestThread(broker, db, client_id="poisoned")  # the same session, restarted
    try:
        room1.publish_all("veil/room1", [x.strip() for x in lines[8:12]])
        assert again.wait_for(4).stored == 4  # nothing redelivered first
    finally:
        again.close()
        room1.close()
    with SqliteStore(db) as s:
        assert s.counts() == (12, len(POISON))
        assert [r for _o, r in s.quarantined()][:2] == ["JSON nested too deeply"] * 2
    figures(
        "JSON nested 1,500-2,000 deep over MQTT, from a device's credentials",
        sent=12 + len(POISON),
        stored=12,
        quarantined=len(POISON),
        lost=0,
        duplicated=0,
        notes="acknowledged once quarantined: not delivered again to the restarted service",
    )


def test_live_decode_reports_poison_and_goes_on(broker, genuine, tmp_path, figures):
    home, _spec, lines = genuine
    shown: list[str] = []
    started = threading.Event()
    got = {}

    def echo(line):
        shown.append(line)
        started.set()

    def run():
        got["report"] = follow(home, f"mqtts://127.0.0.1:{broker.tls_port}", tmp_path / "l.csv",
                               user="owner", password=broker.files.password("owner"),
                               ca=broker.files.ca_pem, limit=2, idle=20, echo=echo)  # fmt: skip

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert started.wait(20)
    room1 = publisher(broker, "room1")
    try:
        room1.publish_all("veil/room1", [NESTED, *(x.strip() for x in lines[:8])])
        t.join(30)
    finally:
        room1.close()
    assert not t.is_alive() and "report" in got, shown
    report = got["report"]
    assert report.devices["-"].counts["malformed"] == 1
    assert report.devices["room1"].counts["verified_real"] == 2
    figures(
        "JSON nested 2,000 deep reaching `veil decode --follow`",
        sent=9,
        quarantined=1,
        recovered="2/2",
        notes="reported malformed; the live decode went on to its --limit",
    )


def test_a_value_beyond_32_bits_once_scaled_is_malformed_for_the_owner(genuine, tmp_path):
    """In range as sent (the platform stores it, it has no decimals to scale by), beyond 32
    bits once scaled by the channel's decimals: the owner's decode says so, no traceback."""
    home, _spec, lines = genuine
    rec = json.loads(lines[0])
    rec["val"]["S1_Temp"] = 2**31 - 1  # x 100
    feed = tmp_path / "big.jsonl"
    feed.write_bytes(json.dumps(rec).encode() + b"\n" + b"".join(lines[1:8]))
    report = tmp_path / "r.json"
    p = veil_cli("decode", "--home", home.path, feed, "--out", tmp_path / "r.csv",
                 "--report", report, cwd=tmp_path, check=False)  # fmt: skip
    assert p.returncode == 3 and "Traceback" not in p.stderr, p.stderr
    assert json.loads(report.read_text())["devices"]["room1"]["malformed"] == 1
