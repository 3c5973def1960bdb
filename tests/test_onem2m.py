"""oneM2M end to end with real components: the firmware on the virtual board creates its records
in the real ACME CSE over HTTP (an AE per device, a container per track, a contentInstance per
record); the owner decodes straight from the CSE, bit-exact; a platform ingests from it. The
CSE stopped mid-stream loses nothing and stores nothing twice; hostile content and bad URLs
end in clear errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from veil import dataset
from veil.owner.decode import decode
from veil.platform.onem2m import read_devices
from veil.platform.store.sqlite import SqliteStore
from veil.protocol import DeviceSpec
from veil.sim.demo import compare
from veil.sim.replay import SimResult

from conftest import ROOM, ROOM_CHANNELS, veil_cli, wait_for
from netkit import BoardThread, publish_to_cse
from services import AcmeCse, Postgres, free_port

ROWS = 300


@pytest.fixture(scope="module")
def cse(tmp_path_factory):
    with AcmeCse(tmp_path_factory.mktemp("acme")) as c:
        yield c


@pytest.fixture(scope="module")
def series():
    return dataset.load(ROOM, channels=ROOM_CHANNELS, limit=ROWS)


def cse_get(cse, path, origin="CAdmin"):
    req = urllib.request.Request(
        f"http://127.0.0.1:{cse.port}{path}",
        headers={"X-M2M-Origin": origin, "X-M2M-RI": "t", "X-M2M-RVI": "3"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def cse_create(cse, path, ty, body, origin):
    req = urllib.request.Request(
        f"http://127.0.0.1:{cse.port}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "X-M2M-Origin": origin,
            "X-M2M-RI": "t",
            "X-M2M-RVI": "3",
            "Content-Type": f"application/json;ty={ty}",
        },
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201


def instances(cse, dev, trk):
    """(names, sizes) of the contentInstances in a device's container, found by discovery
    (the container's own count, cni, can be off after a restart)."""
    uris = cse_get(cse, f"/cse-veil/{dev}/t{trk}?fu=1&ty=4")["m2m:uril"]
    sizes = {cse_get(cse, "/" + u)["m2m:cin"]["cs"] for u in uris[:5]}
    return [u.rsplit("/", 1)[-1] for u in uris], sizes


def test_vboard_to_cse_to_owner_bit_exact(cse, series, home, tmp_path):
    log = publish_to_cse(home, series, cse.url)
    assert any("onem2m connected" in line for line in log), log
    ae = cse_get(cse, "/cse-veil/room1")["m2m:ae"]
    assert ae["api"] == "Nveil" and ae["aei"] == "Cveil-room1"
    uris = cse_get(cse, "/cse-veil/room1?fu=1&ty=3")["m2m:uril"]
    assert sorted(u.rsplit("/", 1)[-1] for u in uris) == ["t0", "t1", "t2", "t3"]
    sizes = set()
    for trk in range(4):  # every track alike: as many instances, all of one size
        names, size = instances(cse, "room1", trk)
        assert len(names) == len(set(names)) == ROWS
        assert names[:2] == ["0-0-0", "0-0-1"]
        sizes |= size
    assert len(sizes) == 1

    home.save_device(DeviceSpec("ghost", 4, 0, home.devices()["room1"].channels))
    out = tmp_path / "real.csv"
    p = veil_cli("decode", "--home", home.path, "--cse", cse.url, "--out", out, cwd=tmp_path)
    assert "ghost: not on" in p.stderr
    assert f"{ROWS} real readings" in p.stdout
    items, absent = read_devices(cse.url, ["room1"])
    readings, report = decode(home.keys(), home.devices(), items)
    assert absent == [] and report.clean
    assert compare(series, readings) == (ROWS, [])

    db = tmp_path / "platform.db"
    p = veil_cli("ingest", cse.url, "--store", db, cwd=tmp_path)
    assert f"{4 * ROWS} stored, 0 already stored, 0 quarantined" in p.stdout
    p = veil_cli("ingest", cse.url, "--store", db, cwd=tmp_path)
    assert f"0 stored, {4 * ROWS} already stored" in p.stdout
    with SqliteStore(db) as s:
        readings, report = decode(home.keys(), home.devices(), s.items())
    assert compare(series, readings) == (ROWS, []) and report.clean


def test_cse_stopped_mid_stream_loses_nothing_and_stores_nothing_twice(home, tmp_path, figures):
    """ACME on PostgreSQL (durable), stopped for a while as the board publishes: the board
    keeps its records in the outbox, sends again what was in flight (the CSE answers
    "already exists" for what it had stored) and every record is there once."""
    rows = 120
    part = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=rows)
    with Postgres() as pg, AcmeCse(tmp_path / "acme", db=pg.url) as cse:
        board = BoardThread(publish_to_cse, home, part, cse.url, speed=1000)  # rows 30 ms apart
        wait_for(lambda: _has_records(cse), timeout=60)  # mid-stream
        cse.stop()
        board.wait_log("onem2m link down")
        cse.start()
        log = board.finish()
        counts = [instances(cse, "room1", trk) for trk in range(4)]
        items, _ = read_devices(cse.url, ["room1"])
        readings, report = decode(home.keys(), home.devices(), items)
    assert "onem2m link down" in log and log.count("onem2m connected") >= 2, log
    for names, _sizes in counts:
        assert (len(names), len(set(names))) == (rows, rows), log
    assert report.clean and report.total("duplicated") == 0
    assert compare(part, readings) == (rows, [])
    stored = sum(len(names) for names, _sizes in counts)
    figures(
        "oneM2M CSE (ACME on PostgreSQL) stopped mid-stream, restarted",
        sent=4 * rows,
        stored=stored,
        quarantined=0,
        recovered=f"{compare(part, readings)[0]}/{rows}",
        lost=4 * rows - stored,
        duplicated=report.total("duplicated"),
    )


def _has_records(cse, dev="room1", trk=3) -> bool:
    try:
        return bool(cse_get(cse, f"/cse-veil/{dev}/t{trk}?fu=1&ty=4")["m2m:uril"])
    except OSError:
        return False


def test_hostile_content_on_the_cse(cse, home, tmp_path, figures):
    """Someone with the device's originator (or the platform) adds junk to its containers:
    decode and ingest name every piece, lose nothing stored before and go on."""
    rows = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=20)
    publish_to_cse(home, rows, cse.url, device="room2")
    db = tmp_path / "p.db"
    veil_cli("ingest", cse.url, "--store", db, cwd=tmp_path)
    with SqliteStore(db) as s:
        before = s.counts()[0]
    good = cse_get(cse, "/cse-veil/room2/t1?rcn=8&ty=4&lim=3")["m2m:cnt"]["m2m:cin"][0]["con"]
    hostile = {
        "bad JSON": "{not json",
        "content is not": {"v": 1},
        "of device room1 in the AE of device room2": good.replace('"room2"', '"room1"'),
        "of track 1 in container t0": good,
        "exceeds": "{" + " " * 5000 + "}",
    }
    for n, con in enumerate(hostile.values()):
        body = {"m2m:cin": {"rn": f"junk{n}", "con": con}}
        cse_create(cse, "/cse-veil/room2/t0", 4, body, "Cveil-room2")

    p = veil_cli("decode", "--home", home.path, "--cse", cse.url, "--out", tmp_path / "r.csv",
                 "--report", tmp_path / "r.json", cwd=tmp_path, check=False)  # fmt: skip
    assert p.returncode == 3, p.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["devices"]["-"]["malformed"] == len(hostile)
    assert report["devices"]["room2"]["verified_real"] == 20
    p = veil_cli("ingest", cse.url, "--store", db, cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert re.search(rf"^veil: error: {len(hostile)} messages quarantined", p.stderr, re.M)
    with SqliteStore(db) as s:
        assert s.counts()[0] == before
        reasons = [reason for _origin, reason in s.quarantined()]
    figures(
        "junk contentInstances in a device's CSE containers",
        sent=before + len(hostile),
        stored=before,
        quarantined=len(hostile),
        recovered="20/20",
        lost=0,
        duplicated=0,
    )
    for want in hostile:
        assert sum(want in r for r in reasons) == 1, (want, reasons)


def test_firmware_refused_by_the_cse_keeps_its_outbox(cse, home):
    """A board provisioned with a CSE name the CSE does not have: it says why, keeps trying
    with backoff, and keeps every record for later."""
    five = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=5)
    wrong = cse.url.rsplit("/", 1)[0] + "/no-such-cse"
    lines = publish_to_cse(home, five, wrong, device="room3", drain_ms=500)
    log = "\n".join(lines)
    assert "CSE refused the AE or a container: HTTP 404, RSC 4004" in log
    assert "stopping with 20 messages kept in the outbox" in log
    why = SimResult(home.devices()["room3"], 5, lines).undelivered()  # what `veil sim` says
    assert why == (
        "20 records were not delivered over onem2m "
        "(last error: CSE refused the AE or a container: HTTP 404, RSC 4004)"
    )


def test_a_refused_record_waits_first_in_the_outbox_until_the_cse_takes_it(cse, home):
    """The CSE refuses the records of one track (its container belongs to the admin, who gave
    the device no right to write there). The board keeps that record first in its outbox and
    retries with backoff; once the container is gone the board makes its own, and every
    record of every track ends up in the CSE once."""
    ae = {"m2m:ae": {"rn": "room4", "api": "Nveil", "rr": False, "srv": ["3"]}}
    cse_create(cse, "/cse-veil", 2, ae, "Cveil-room4")  # as if from an earlier connection
    cse_create(cse, "/cse-veil/room4", 3, {"m2m:cnt": {"rn": "t2"}}, "CAdmin")
    rows = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=30)
    board = BoardThread(publish_to_cse, home, rows, cse.url, device="room4")
    wait_for(lambda: _has_records(cse, "room4", 0), timeout=60)  # got in
    board.wait_log("onem2m link down: CSE refused a record: HTTP 403")  # and t2 was refused
    req = urllib.request.Request(
        f"{cse.url}/room4/t2",
        method="DELETE",
        headers={"X-M2M-Origin": "CAdmin", "X-M2M-RI": "t", "X-M2M-RVI": "3"},
    )
    urllib.request.urlopen(req, timeout=10).close()
    log = board.finish()
    assert "onem2m link down: CSE refused a record: HTTP 403, RSC 4103" in log
    assert log.count("onem2m connected") >= 2 and "kept in the outbox" not in log, log
    for trk in range(4):
        names, _sizes = instances(cse, "room4", trk)
        assert sorted(names) == sorted(f"0-0-{n}" for n in range(30))


@pytest.mark.parametrize(
    ("url", "decode_says", "ingest_says"),
    [
        ("http://127.0.0.1:{closed}/cse-veil", "cannot reach CSE", "cannot reach CSE"),
        ("http://127.0.0.1:{port}/other-cse", "has published to", "RSC 4004"),
        ("http://127.0.0.1:{port}", "names no CSE", "names no CSE"),
        ("https://127.0.0.1:{port}/cse-veil", "not a CSE URL", "not a CSE URL"),
    ],
)
def test_bad_cse_urls_are_one_line_errors(cse, home, tmp_path, url, decode_says, ingest_says):
    home.save_device(DeviceSpec("room9", 2, 0, (dataset.load(ROOM, limit=2).channels[0],)))
    url = url.format(port=cse.port, closed=free_port())
    for args, says in (
        (("decode", "--home", home.path, "--cse", url), decode_says),
        (("ingest", url), ingest_says),
    ):
        p = veil_cli(*args, cwd=tmp_path, check=False)
        assert p.returncode == 1, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("veil: error:"), p.stderr
        assert says in lines[0], lines[0]


def test_cse_command_writes_a_set_up_acme_starts_from(tmp_path):
    """`veil cse` then `acmecse --base-directory DIR --headless`, as the README says."""
    port = free_port()
    p = veil_cli("cse", tmp_path / "acme", "--port", port, cwd=tmp_path)
    assert "acmecse --base-directory" in p.stdout
    acme = subprocess.Popen(
        [shutil.which("acmecse", path=str(Path(sys.executable).parent)), "--base-directory",
         str(tmp_path / "acme"), "--headless"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        cse = AcmeCse(tmp_path / "unused")
        cse.port = port
        wait_for(lambda: _answers(cse), timeout=60)
        assert cse_get(cse, "/cse-veil")["m2m:cb"]["csi"] == "/id-veil"
    finally:
        acme.terminate()
        acme.wait(30)
    bad = veil_cli("cse", tmp_path / "x", "--db", "postgresql://u:secret@h/db", cwd=tmp_path,
                   check=False)  # fmt: skip
    assert bad.returncode == 1 and "secret" not in bad.stderr


def _answers(cse) -> bool:
    try:
        return "m2m:cb" in cse_get(cse, "/cse-veil")
    except OSError:
        return False
