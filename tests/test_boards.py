"""Board definitions: the shipped files, their schema checks and `veil boards`."""

from __future__ import annotations

import pytest
from esptool.targets import CHIP_DEFS

from veil.boards import boardfile
from veil.boards.boardfile import BoardFileError
from veil.boards.sensors import SENSORS

from conftest import veil_cli

# MicroPython's release images start with the bootloader, at 0x1000 on the ESP32 and at 0x0 on
# the ESP32-S3 and -C3 (esptool documentation, "Flash Modes"; micropython.org deploy notes).
OFFSETS = {"esp32": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}


def test_the_shipped_boards():
    names = set(boardfile.known())
    assert {"virtual", "esp32-devkitc", "esp32-s3", "esp32-c3"} <= names
    chips = {boardfile.load(n).chip for n in names}
    assert {"unix", "esp32", "esp32s3", "esp32c3"} <= chips


@pytest.mark.parametrize("name", ["esp32-devkitc", "esp32-s3", "esp32-c3"])
def test_flashable_boards_match_esptool(name):
    b = boardfile.load(name)
    assert b.flashable
    assert b.image_offset == OFFSETS[b.chip] == CHIP_DEFS[b.chip].BOOTLOADER_FLASH_OFFSET
    assert b.machine.replace("-", "") == CHIP_DEFS[b.chip].CHIP_NAME.replace("-", "")
    assert b.micropython.startswith("ESP32_GENERIC")


@pytest.mark.parametrize("name", ["esp32-devkitc", "esp32-s3", "esp32-c3"])
def test_sensor_sets_become_channels_and_a_composite_driver(name):
    b = boardfile.load(name)
    channels, kinds = b.channels()
    assert len(channels) == len(kinds) == len({c.name for c in channels})
    driver = b.driver_config()
    assert driver["type"] == "composite" and driver["i2c"]["sda"] != driver["i2c"]["scl"]
    published = []
    for part, use in zip(driver["sensors"], b.sensors, strict=True):
        quantities = [q.key for q in SENSORS[part["type"]].quantities]
        assert len(part["map"]) == len(quantities)
        for key, index in zip(quantities, part["map"], strict=True):
            assert (index >= 0) == (key in use.keys)
            if index >= 0:
                published.append(index)
                q = SENSORS[part["type"]].quantity(key)
                assert (channels[index].dec, channels[index].lo) == (q.dec, q.lo)
    assert sorted(published) == list(range(len(channels)))


def test_scd4x_publishing_only_co2_reads_but_hides_its_other_quantities():
    b = boardfile.load("esp32-devkitc")
    part = next(p for p in b.driver_config()["sensors"] if p["type"] == "scd4x")
    names = [c.name for c in b.channels()[0]]
    assert part["map"][0] == names.index("co2") and part["map"][1:] == [-1, -1]


def test_virtual_board_replays_and_cannot_be_flashed():
    b = boardfile.load("virtual")
    assert b.replays and not b.flashable


GOOD = """\
name = "mine"
description = "test board"
chip = "esp32"
machine = "ESP32"
flash_size = "4MB"
image_offset = 0x1000
micropython = "ESP32_GENERIC"
baud = 460800
heap = 111936
supported = ["sht3x", "bme280", "pir"]

[i2c]
id = 0
sda = 21
scl = 22
freq = 100000

[[sensors]]
type = "sht3x"

[[sensors]]
type = "pir"
pin = 4
"""


@pytest.mark.parametrize(
    "change, words",
    [
        (("image_offset = 0x1000", "image_offset = 0x0"), "bootloader at 0x1000"),
        (('chip = "esp32"', 'chip = "esp99"'), "no chip 'esp99'"),
        (('flash_size = "4MB"', 'flash_size = "3MB"'), "flash_size must be"),
        (('type = "pir"', 'type = "scd4x"'), "not among the board's supported"),
        (("pin = 4", "pin = 4\nchannels = ['light']"), "channels must be some of"),
        (('type = "pir"\npin = 4', 'type = "bme280"'), "occur twice"),
        (("[i2c]\nid = 0\nsda = 21\nscl = 22\nfreq = 100000\n", ""), "needs the board's [i2c]"),
        (('micropython = "ESP32_GENERIC"\n', ""), "needs all of"),
        (("baud = 460800", "baud = 460800\ncolour = 'red'"), "unknown keys colour"),
        (("heap = 111936\n", ""), "missing 'heap'"),
        (("heap = 111936", "heap = 4096"), "heap must be 16 KiB to 64 MiB in bytes, not 4096"),
        (('name = "mine"', 'name = "my board"'), "bad board name"),
    ],
)
def test_board_file_mistakes_are_named(tmp_path, change, words):
    path = tmp_path / "mine.toml"
    assert change[0] in GOOD
    path.write_text(GOOD.replace(*change, 1))
    with pytest.raises(BoardFileError, match=words.replace("[", r"\[").replace("(", r"\(")):
        boardfile.load(str(path))


def test_a_board_file_by_path_loads(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    b = boardfile.load(str(path))
    assert [c.name for c in b.channels()[0]] == ["temp", "hum", "motion"]


def test_veil_boards_lists_them_and_unknown_names_list_the_known(tmp_path):
    p = veil_cli("boards", cwd=tmp_path)
    for name in boardfile.known():
        assert name in p.stdout
    assert "0x1000" in p.stdout
    p = veil_cli("flash", "/dev/null", "--board", "esp32-wroom-99", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("veil: error: unknown board 'esp32-wroom-99'; known boards: ")
    assert all(name in p.stderr for name in boardfile.known())
