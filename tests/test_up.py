"""`veil up` and `veil ports`: from a board on a serial port to its data flowing, each step
said and skipped when done. The board is the virtual one behind a pty, reached exactly like a
board on USB; port discovery reads a serial port listing given in its place."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from veil.boards import boardfile, ports
from veil.boards.ports import NoBoardError, resolve
from veil.boards.up import up
from veil.cli import cli
from veil.dataset import load
from veil.owner.home import Home
from veil.sim.vboard import VirtualBoard

from conftest import ROOM, veil_cli

CP2102N = (0x10C4, 0xEA60)
ROWS = 30


@dataclass
class FakePort:
    """What pyserial's list_ports.comports() gives for one port."""

    device: str
    description: str = "n/a"
    vid: int | None = None
    pid: int | None = None


def steps(p) -> list[str]:
    """What `veil up` said of each step: its stderr less the progress lines of slow steps."""
    progress = re.compile(r": (\d+ s so far|done in \d+ s|\d+/\d+ \(\d+%\).*)$")
    return [line for line in p.stderr.splitlines() if not progress.search(line)]


def listing_of(*found):
    return lambda: list(found)


@pytest.fixture(scope="module")
def vboard(tmp_path_factory):
    with VirtualBoard(tmp_path_factory.mktemp("vboard")) as vb:
        yield vb


def up_args(port):
    return [
        "up", port, "--board", "virtual", "--device", "up1", "--home", "h", "--csv", ROOM,
        "--channel", "S5_CO2", "--channel", "S6_PIR", "--rows", ROWS, "--period-ms", 20,
        "--log-every", 10, "--until", "stopped after", "--duration", 60,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def twice(vboard, tmp_path_factory):
    """`veil up` twice on the same board and home, then the feed fetched and decoded."""
    d = tmp_path_factory.mktemp("up")
    first = veil_cli(*up_args(vboard.port), cwd=d)
    second = veil_cli(*up_args(vboard.port), cwd=d)
    veil_cli("fetch", vboard.port, "--out", "feed.jsonl", cwd=d)
    decoded = veil_cli("decode", "feed.jsonl", "--home", "h", "--json", cwd=d, check=False)
    return d, first, second, json.loads(decoded.stdout)


def test_first_up_does_every_step_and_says_so(twice):
    d, first, _, _ = twice
    said = steps(first)
    assert said[0].startswith("flash: MicroPython 1.") and "never flashed" in said[0]
    assert said[1].startswith("firmware: copied ") and "verified" in said[1]
    assert said[2].startswith("home key: h had none, created h/home.key (mode 0600")
    assert said[3] == "provision: wrote up1 (k=4, epoch 0, S5_CO2, S6_PIR)"
    assert said[4].startswith("start: restarting the board on")
    assert (d / "h" / "home.key").stat().st_mode & 0o777 == 0o600
    log = first.stdout.splitlines()
    assert log[0].startswith("veil: boot 0 device up1")
    assert log[-1].startswith(f"veil: stopped after {ROWS} ticks")


def test_second_up_skips_what_is_done(twice):
    _, _, second, _ = twice
    said = steps(second)
    assert "veil device up1" in said[0]
    assert said[1].startswith("firmware: up to date (")
    assert said[2] == "home key: h/home.key"
    assert said[3] == "provision: the board already holds up1 (k=4, epoch 0, S5_CO2, S6_PIR)"
    assert second.stdout.splitlines()[0].startswith("veil: boot 1 device up1")


def test_the_data_flows_and_decodes_exactly(twice):
    """Both boots replay the same rows (the replay driver starts its file again after a
    reboot), so the second boot's real readings carry times the first already had: the
    owner's decode says so, and finds nothing else wrong."""
    d, _, _, summary = twice
    counts = summary["devices"]["up1"]
    assert summary["readings"] == 2 * ROWS and counts["verified_real"] == 2 * ROWS
    assert counts["repeated_time"] == ROWS
    problems = ("altered", "injected", "missing", "missing_boot", "malformed", "reused_slot")
    assert all(counts[p] == 0 for p in problems), counts
    with ROOM.open() as f:
        src = [(r["S5_CO2"], r["S6_PIR"]) for r in list(csv.DictReader(f))[:ROWS]]
    with (d / "real.csv").open() as f:
        got = [(r["S5_CO2"], r["S6_PIR"]) for r in csv.DictReader(f)]
    assert got == src + src


def test_up_auto_finds_the_board_by_its_usb_chip(vboard, tmp_path):
    """The library call `veil up auto` makes, with a listing where the board's pty carries a
    CP2102N and another port is no board."""
    said = []
    listing = listing_of(FakePort("/dev/ttyS0"), FakePort(vboard.port, "CP2102N", *CP2102N))
    home = Home(tmp_path / "h")
    up(
        "auto", home, "up2", board=boardfile.load("virtual"),
        series=load(ROOM, channels=["S1_Temp"], limit=5), follow=False, say=said.append,
        comports=listing,
    )  # fmt: skip
    assert said[0].startswith(f"port: auto found {vboard.port} (CP2102N [10c4:ea60], a USB")
    assert said[-2] == "provision: wrote up2 (k=4, epoch 0, S1_Temp)"
    assert said[-1] == f"start it with: veil monitor {vboard.port} --reset"
    assert "up2" in home.devices()


def test_auto_picks_the_one_port_of_the_board():
    listing = listing_of(
        FakePort("/dev/ttyS0"),
        FakePort("/dev/ttyACM0", "USB JTAG/serial debug unit", 0x303A, 0x1001),
        FakePort("/dev/ttyUSB0", "CP2102N USB to UART", *CP2102N),
    )
    devkitc = boardfile.load("esp32-devkitc")
    port, found = resolve("auto", devkitc, comports=listing)
    assert port == "/dev/ttyUSB0" and found.boards == ("esp32-c3", "esp32-devkitc", "esp32-s3")
    assert resolve("/dev/ttyUSB3", devkitc, comports=listing) == ("/dev/ttyUSB3", None)
    with pytest.raises(NoBoardError, match="auto: 2 ports could be a supported board: /dev/"):
        resolve("auto", boardfile.load("virtual"), comports=listing)


def test_auto_without_a_board_names_the_ports_present():
    with pytest.raises(NoBoardError) as e:
        resolve("auto", comports=listing_of(FakePort("/dev/ttyS0")))
    assert str(e.value) == (
        "auto: no serial port has the USB serial chip of a supported board (ports present: "
        "/dev/ttyS0 (n/a)): plug it in with a data cable, or give the port"
    )


def test_ports_lists_what_is_on_each_port(vboard, monkeypatch):
    listing = listing_of(FakePort(vboard.port, "CP2102N", *CP2102N), FakePort("/dev/ttyS0"))
    monkeypatch.setattr(ports, "system_ports", listing)
    text = CliRunner().invoke(cli, ["ports", "--probe"])
    assert text.exit_code == 0, text.output
    lines = sorted(text.output.splitlines(), key=lambda line: "ttyS0" not in line)
    assert lines[0] == "/dev/ttyS0 (n/a)"
    assert lines[1].startswith(f"{vboard.port} (CP2102N [10c4:ea60], a USB serial chip of ")
    assert ": MicroPython 1." in lines[1]
    doc = json.loads(CliRunner().invoke(cli, ["ports", "--json"]).output)
    assert next(p for p in doc if p["port"] == vboard.port) == {
        "port": vboard.port, "description": "CP2102N", "usb": "10c4:ea60",
        "boards": ["esp32-c3", "esp32-devkitc", "esp32-s3"],
    }  # fmt: skip
    monkeypatch.setattr(ports, "system_ports", listing_of())
    empty = CliRunner().invoke(cli, ["ports"])
    assert empty.output.startswith("no serial ports: plug the board in with a data cable")


def test_every_port_command_takes_auto(tmp_path):
    """With no board attached here, `auto` is refused by each with the same clear line."""
    if any(p.boards for p in ports.listing()):
        pytest.skip("a board is attached to this machine")
    for args in (["deploy", "auto"], ["monitor", "auto"], ["fetch", "auto"],
                 ["flash", "auto", "--board", "esp32-s3"],
                 ["provision", "auto", "--device", "d", "--board", "esp32-c3"],
                 ["up", "auto", "--device", "d", "--board", "esp32-devkitc"]):  # fmt: skip
        p = veil_cli(*args, cwd=tmp_path, check=False)
        assert p.returncode == 1
        assert p.stderr.startswith("veil: error: auto: no serial port has the USB serial chip")


def test_micropython_is_flashed_only_when_older_than_the_image_at_hand(vboard, tmp_path):
    """A flashable board whose MicroPython is the virtual board's: a cached image of an older
    release leaves it alone, a newer one is written (esptool then finds no ROM on the pty)."""
    from dataclasses import replace

    from veil.boards.flash import FlashError
    from veil.boards.ports import probe
    from veil.boards.up import _flash_if_needed, image_version

    board = replace(boardfile.load("esp32-devkitc"), machine="linux")
    found = probe(vboard.port)
    assert image_version(tmp_path / "ESP32_GENERIC-20250415-v1.25.0.bin") == (1, 25, 0)
    (tmp_path / "ESP32_GENERIC-20240101-v1.22.0.bin").write_bytes(b"\xe9" + bytes(999))
    said = []
    kw = dict(image=None, cache=tmp_path, download=False, baud=None, reset=False, say=said.append)
    assert _flash_if_needed(vboard.port, board, found, **kw) is found
    assert said[-1].endswith(", up to date: not flashed")
    (tmp_path / "ESP32_GENERIC-20991231-v9.0.0.bin").write_bytes(b"\xe9" + bytes(999))
    with pytest.raises(FlashError):
        _flash_if_needed(vboard.port, board, found, **kw)
    assert said[-1].endswith("older than ESP32_GENERIC-20991231-v9.0.0.bin: flashing it")
