"""A new user with no board attached: every command says what is wrong, in one line, with a
non-zero exit, and nothing hangs."""

from __future__ import annotations

import time

import pytest

from conftest import ROOM, veil_cli

NO_BOARD = "/dev/ttyUSB7"


@pytest.mark.parametrize(
    "args, words",
    [
        (["flash", NO_BOARD, "--board", "esp32-devkitc", "--image", ROOM], "not an ESP32 firmware"),
        (["deploy", NO_BOARD], f"no board on {NO_BOARD}: the port does not exist"),
        (["deploy", NO_BOARD, "--board", "esp32-s3"], "the port does not exist"),
        (
            ["provision", NO_BOARD, "--home", "h", "--device", "d", "--board", "esp32-c3"],
            "the port does not exist",
        ),
        (
            [
                "provision",
                NO_BOARD,
                "--home",
                "h",
                "--device",
                "d",
                "--csv",
                ROOM,
                "--channel",
                "S5_CO2",
            ],
            "the port does not exist",
        ),
        (["provision", NO_BOARD, "--home", "h", "--device", "d"], "give --board"),
        (
            ["provision", NO_BOARD, "--home", "none", "--device", "d", "--board", "virtual"],
            "keygen",
        ),
        (["monitor", NO_BOARD], "the port does not exist"),
        (["fetch", NO_BOARD], "the port does not exist"),
        (["flash", NO_BOARD, "--board", "virtual"], "cannot be flashed"),
        (["flash", NO_BOARD, "--board", "esp32"], "known boards: esp32-c3, esp32-devkitc"),
    ],
)
def test_commands_without_a_board(tmp_path, args, words):
    veil_cli("keygen", "--home", "h", cwd=tmp_path)
    start = time.monotonic()
    p = veil_cli(*args, cwd=tmp_path, check=False, timeout=60)
    assert time.monotonic() - start < 30
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 or lines[-1].startswith("Error:"), p.stderr
    assert words in p.stderr
    assert not (tmp_path / "h" / "devices.json").exists()
