"""An unforeseen error in the firmware's tick loop: the sink is closed, the error logged (never
the key) and the board reset after a pause, as a watchdog would; every tick published before
the error decodes exactly."""

from __future__ import annotations

import re

import pytest

from veil.feed import read_feed
from veil.owner.decode import decode

from conftest import REPO, micropython, provision_folder

SCRIPT = REPO / "tests" / "mpy" / "crash_reset.py"
BEFORE = 5  # ticks published before the sensor's sixth read fails


@pytest.fixture
def board(home, tmp_path, room_series):
    folder = tmp_path / "board"
    provision_folder(home, folder, room_series)
    return folder


def published(home, board, room_series):
    readings, report = decode(home.keys(), home.devices(), read_feed(board / "feed.jsonl"))
    assert report.clean
    assert [list(r.values) for r in readings] == room_series.rows[:BEFORE]
    return readings


def test_an_unforeseen_error_ends_in_a_reset_after_a_pause(home, board, room_series):
    p = micropython(SCRIPT, cwd=board)
    out = p.stdout + p.stderr
    assert p.returncode == 0xB0, out
    assert f"veil: stopped after {BEFORE} ticks" in p.stdout
    assert "veil: crash: SensorBusFault bus fell over" in p.stdout
    assert int(re.search(r"reset called after (\d+) ms", p.stdout).group(1)) >= 300
    assert "Traceback" not in out
    assert home.key().hex() not in out
    published(home, board, room_series)


def test_without_a_reset_the_error_goes_up(home, board, room_series):
    p = micropython(SCRIPT, "bare", cwd=board)
    assert p.returncode == 1
    assert "veil: crash: SensorBusFault bus fell over" in p.stdout
    assert "SensorBusFault: bus fell over" in p.stdout + p.stderr
    assert "reset called" not in p.stdout
    published(home, board, room_series)
