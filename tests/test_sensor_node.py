"""A board file's sensor set end to end: provisioned config -> composite driver over recorded
parts -> the firmware's encoder under MicroPython -> the owner's decode, reading for reading."""

from __future__ import annotations

import re

from veil.boards import boardfile
from veil.boards.provision import device_config, sensor_channels, stage
from veil.feed import read_feed
from veil.owner.decode import decode
from veil.owner.devices import define_device

from conftest import REPO, micropython

TICKS = 30


def test_devkitc_sensor_set_publishes_what_the_parts_said(home, tmp_path):
    board = boardfile.load("esp32-devkitc")
    channels, kinds = sensor_channels(board)
    definition = define_device(home, "node1", channels, k=4, epoch=0, kinds=kinds)
    spec = definition.spec
    config = device_config(spec, sensors=board, period_ms=1000, log_every=1000)
    stage(tmp_path, home, config, profile=definition.profile)
    definition.save(home)
    p = micropython(REPO / "tests" / "mpy" / "sensor_node.py", str(TICKS), cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"garbage per tick \d+", p.stdout)

    readings, report = decode(home.keys(), home.devices(), read_feed(tmp_path / "feed.jsonl"))
    assert report.clean and len(readings) == TICKS
    names = [c.name for c in spec.channels]
    assert names == ["temp", "hum", "co2", "light", "motion", "door"]
    for i, r in enumerate(readings):
        got = dict(zip(names, r.values, strict=True))
        assert r.mask == 0
        assert got == {
            "temp": round((-45 + 175 * 0xBEEF / 65535) * 100),
            "hum": round(100 * 0x5EB9 / 65535 * 100),
            "co2": 500,  # SCD4x datasheet example
            "light": 28067,  # BH1750 datasheet example
            "motion": 1 if i % 3 == 0 else 0,
            "door": i % 2,
        }
        assert r.ts > 1_600_000_000
