"""A device too big for its board's heap is refused on the laptop, before anything is written,
with one line naming the budget and the size (veil.boards.budget)."""

from __future__ import annotations

import pytest

from veil import dataset
from veil.boards import boardfile, budget
from veil.boards.provision import board_config, provision
from veil.owner.devices import define_device
from veil.privacy.profile import fit_series

from conftest import REPO, ROOM, ROOM_CHANNELS, veil_cli

HOME_DATA = REPO / "host" / "veil" / "sim" / "data" / "appliances_home.csv"


def device(home, series, k=4):
    d = define_device(home, "dev", series.channels, k=k, profile=fit_series(series), series=series)
    return board_config(d.spec), d.profile


def test_what_a_device_needs_grows_with_its_channels_tracks_and_profile(home):
    room = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=500)
    config, profile = device(home, room)
    need = budget.needed(config, profile)
    doc, tables = budget.board_bytes(config, profile)
    assert tables > 4 * 1000 and need > budget.CODE + doc + tables  # four walks' tables
    assert budget.needed({**config, "k": 8}, profile) == need + 4 * budget.PER_TRACK
    wider = {**config, "channels": config["channels"] * 2}
    assert budget.needed(wider, profile) >= need + 4 * budget.PER_CHANNEL + tables
    assert budget.check(config, profile) == need  # four room channels fit an ESP32


def test_the_virtual_board_stands_for_the_smallest_real_board():
    real = [boardfile.load(n) for n in boardfile.known() if n != "virtual"]
    smallest = min(b.heap for b in real)
    assert budget.budget(None)[0] == smallest
    assert budget.budget(boardfile.load("virtual"))[0] == smallest
    s3 = boardfile.load("esp32-s3")
    assert budget.budget(s3) == (s3.heap, "board esp32-s3")


def test_sim_refuses_a_device_too_big_for_an_esp32_before_writing_anything(tmp_path):
    veil_cli("keygen", "--home", "h", cwd=tmp_path)
    before = sorted(p.name for p in (tmp_path / "h").iterdir())
    p = veil_cli(
        "sim", HOME_DATA, "--home", "h", "--device", "house", "--k", 16, "--rows", 300,
        "--out", "feed.jsonl", cwd=tmp_path, check=False,
    )  # fmt: skip
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("veil: error: device house needs about ")
    assert "(18 channels, k = 16, a " in lines[0]
    assert "more than the 111,936 bytes of the smallest board (esp32-c3, esp32-devkitc" in lines[0]
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == before
    assert not (tmp_path / "feed.jsonl").exists()


def test_provision_refuses_before_touching_the_port(home, tmp_path):
    small = tmp_path / "tiny.toml"
    text = (REPO / "boards" / "esp32-devkitc.toml").read_text()
    small.write_text(text.replace("heap = 111936", "heap = 32768").replace("esp32-devkitc", "tiny"))
    board = boardfile.load(str(small))
    with pytest.raises(budget.BudgetError, match=r"more than the 32,768 bytes of board tiny"):
        provision("/dev/no-such-port", home, "kitchen", board=board)
    assert "kitchen" not in home.devices()
