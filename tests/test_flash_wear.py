"""Flash wear: the firmware writes flash at most once a tick on average, counted on a
filesystem that counts every commit (tests/mpy/flash_count.py), publishing over MQTT with TLS
to a real Mosquitto while the link keeps up, and when it is down."""

from __future__ import annotations

import re

import pytest

from veil import dataset
from veil.boards.netconfig import sink_settings
from veil.boards.provision import board_config, stage
from veil.owner.devices import define_device
from veil.privacy.profile import fit_series

from conftest import REPO, ROOM, ROOM_CHANNELS, micropython
from services import Mosquitto

TICKS = 600


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Mosquitto(tmp_path_factory.mktemp("broker"), devices=["room1"]) as b:
        yield b


def run(home, board, series, transport):
    definition = define_device(home, "room1", series.channels, k=4, profile=fit_series(series))
    board.mkdir()
    config = board_config(definition.spec, sink=transport.sink, pace="fast", log_every=10**6)
    stage(board, home, config, profile=definition.profile, series=series, transport=transport)
    p = micropython(REPO / "tests" / "mpy" / "flash_count.py", cwd=board)
    assert p.returncode == 0, p.stdout + p.stderr
    found = re.search(r"flash writes (\d+) bytes \d+ ticks (\d+)", p.stdout)
    writes, ticks = map(int, found.groups())
    assert ticks == len(series.times), p.stdout
    return writes, p.stdout


def test_at_most_one_flash_write_a_tick_with_the_link_up(broker, home, tmp_path):
    series = dataset.cycled(dataset.load(ROOM, channels=ROOM_CHANNELS), TICKS)
    net = sink_settings("room1", mqtt_url=f"mqtts://127.0.0.1:{broker.tls_port}",
                        broker_dir=broker.folder)  # fmt: skip
    writes, log = run(home, tmp_path / "board", series, net)
    assert "link down" not in log
    assert 0 < writes <= TICKS // 10, log  # the sequence marks and decoy snapshots, the spool


def test_with_the_link_down_one_write_a_tick_holds_what_is_owed(broker, home, tmp_path):
    series = dataset.cycled(dataset.load(ROOM, channels=ROOM_CHANNELS), TICKS)
    net = sink_settings("room1", mqtt_url="mqtts://127.0.0.1:9", broker_dir=broker.folder)
    writes, log = run(home, tmp_path / "board", series, net)
    assert "stopping with" in log  # nothing was delivered
    assert TICKS <= writes <= TICKS + TICKS // 10, log
