"""Output scripts can use: `--json` on boards, sim, ingest, decode and audit (one document on
stdout, messages on stderr), `--report -`, and JSON lines from `decode --follow`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from veil import dataset

from conftest import ROOM, veil_cli
from netkit import publish_from_vboard
from services import Mosquitto, Postgres

ROWS = 600


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    d = tmp_path_factory.mktemp("json")
    veil_cli("keygen", "--home", "h", cwd=d)
    sim = veil_cli("sim", ROOM, "--home", "h", "--device", "co2", "--rows", ROWS, "--channel",
                   "S5_CO2", "--out", "co2.jsonl", "--json", cwd=d)  # fmt: skip
    return d, sim


def test_boards(tmp_path):
    doc = json.loads(veil_cli("boards", "--json", cwd=tmp_path).stdout)
    by_name = {b["name"]: b for b in doc}
    assert by_name["esp32-devkitc"]["usb"][0] == "10c4:ea60"
    assert by_name["esp32-devkitc"]["image_offset"] == 0x1000
    assert by_name["virtual"]["flashable"] is False


def test_sim(fed):
    _, sim = fed
    assert json.loads(sim.stdout) == {
        "device": "co2", "ticks": ROWS, "k": 4, "epoch": 0, "channels": ["S5_CO2"],
        "to": "co2.jsonl",
    }  # fmt: skip


def test_ingest_counts(fed):
    d, _ = fed
    p = veil_cli("ingest", "co2.jsonl", "--store", "p.db", "--json", cwd=d)
    again = veil_cli("ingest", "co2.jsonl", "--store", "p.db", "--json", cwd=d)
    assert json.loads(p.stdout) == {
        "store": "p.db", "records": 4 * ROWS,
        "sources": [{"source": "co2.jsonl", "read": 4 * ROWS, "stored": 4 * ROWS,
                     "already_stored": 0, "quarantined": 0}],
    }  # fmt: skip
    assert json.loads(again.stdout)["sources"][0]["already_stored"] == 4 * ROWS
    assert "co2.jsonl: 2400 messages" in p.stderr


def test_decode_summary_and_report_on_stdout(fed):
    d, _ = fed
    doc = json.loads(veil_cli("decode", "co2.jsonl", "--home", "h", "--json", cwd=d).stdout)
    assert doc["readings"] == ROWS and doc["csv"] == "real.csv" and doc["clean"]
    assert doc["devices"]["co2"]["verified_real"] == ROWS
    p = veil_cli("decode", "--store", "p.db", "--home", "h", "--report", "-", cwd=d)
    report = json.loads(p.stdout)
    assert report["devices"]["co2"]["verified_fake"] == 3 * ROWS
    assert "verified real" in p.stderr  # the table moves to stderr


def test_audit_on_stdout(fed):
    d, _ = fed
    p = veil_cli("audit", "co2.jsonl", "--home", "h", "--json", "--png", "a.png", cwd=d,
                 check=False)  # fmt: skip
    doc = json.loads(p.stdout)
    assert p.returncode == (0 if doc["all_met"] else 4), p.stderr
    assert doc["k"] == 4 and doc["devices"] == ["co2"] and doc["findings"]
    assert "picture -> a.png" in p.stderr and "| attack |" not in p.stdout


def test_decode_follow_prints_a_header_then_json_lines(home, tmp_path):
    series = dataset.load(ROOM, channels=["S5_CO2", "S6_PIR"], limit=40)
    with Mosquitto(tmp_path / "broker", devices=["room1"]) as broker:
        publish_from_vboard(home, series, broker)  # defines the device in the home

        def follower(*extra):
            return subprocess.Popen(
                [sys.executable, "-m", "veil.cli", "decode", "--home", str(home.path),
                 "--follow", f"mqtts://127.0.0.1:{broker.tls_port}",
                 "--ca", str(broker.files.ca_pem), "--user", "owner", "--password-file",
                 str(broker.folder / "passwords" / "owner"), "--limit", "40", "--idle", "30",
                 "--out", str(tmp_path / "live.csv"), *extra],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip

        text, lines = follower(), follower("--json")
        try:
            assert text.stdout.readline().startswith("following")
            assert lines.stderr.readline().startswith("following")
            publish_from_vboard(home, series, broker)
            out, _ = text.communicate(timeout=60)
            jout, jerr = lines.communicate(timeout=60)
        finally:
            text.kill()
            lines.kill()
    rows = out.splitlines()
    assert rows[0] == "device boot seq time S5_CO2 S6_PIR stand_in"
    assert rows[1].startswith("room1 0 0 ") and rows[1].endswith(" -")
    got = [json.loads(line) for line in jout.splitlines()]
    assert len(got) == 40 and "40 real readings" in jerr
    assert got[0]["device"] == "room1" and got[0]["seq"] == 0
    with ROOM.open() as f:
        want = [r["S5_CO2"] for r in list(csv.DictReader(f))[:40]]
    assert [r["S5_CO2"] for r in got] == want


def test_profile_fit_and_audit_read_a_postgresql_store(fed):
    d, _ = fed
    with Postgres() as pg:
        veil_cli("ingest", "co2.jsonl", "--store", pg.url, cwd=d)
        fit = veil_cli("profile", "fit", "--store", pg.url, "--home", "h", "--no-check", cwd=d)
        p = veil_cli("audit", "--store", pg.url, "--home", "h", "--json", "--png", "pg.png",
                     cwd=d, check=False)  # fmt: skip
    assert f"co2: profile from {ROWS} real readings, unchecked" in fit.stdout
    assert json.loads(p.stdout)["devices"] == ["co2"], p.stderr
