"""Real sensors on a real board (needs --port and the board file's default sensors wired).

The virtual board has no I2C or GPIO: its twins are the drivers' recorded-bus tests
(tests/test_drivers.py) and the replaying board flow (test_board_flow.py)."""

from __future__ import annotations

import csv
import json

import pytest

from veil.boards import boardfile

from conftest import veil_cli

pytestmark = pytest.mark.hil


def test_default_sensors_publish_decodable_readings(real_port, board_name, tmp_path):
    d = tmp_path
    veil_cli("keygen", "--home", "h", cwd=d)
    veil_cli("deploy", real_port, "--board", board_name, cwd=d)
    veil_cli(
        "provision",
        real_port,
        "--home",
        "h",
        "--device",
        "sensors1",
        "--board",
        board_name,
        "--period-ms",
        2000,
        "--log-every",
        5,
        cwd=d,
    )
    veil_cli(
        "monitor",
        real_port,
        "--home",
        "h",
        "--reset",
        "--until",
        "ticks 5",
        "--duration",
        90,
        cwd=d,
    )
    veil_cli("fetch", real_port, "--out", "feed.jsonl", cwd=d)
    veil_cli(
        "decode", "--home", "h", "feed.jsonl", "--out", "real.csv", "--report", "r.json", cwd=d
    )
    assert json.loads((d / "r.json").read_text())["clean"]
    channels, _ = boardfile.load(board_name).channels()
    with (d / "real.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["device"] == "sensors1"]
    assert len(rows) >= 5
    for r in rows:
        assert not r["stand_in"], f"sensors failed: {r['stand_in']}"
        for c in channels:
            assert c.lo <= round(float(r[c.name]) * 10**c.dec) <= c.hi
