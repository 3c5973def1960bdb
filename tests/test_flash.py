"""`veil flash` without hardware: the esptool commands it builds, the checks it makes before
writing, and the real esptool writing to a fake ROM bootloader on loopback (tests/esprom.py)."""

from __future__ import annotations

import http.server
import os
import socket
import threading

import pytest

from esprom import FakeRom
from veil.boards import boardfile
from veil.boards.flash import FlashError, find_image, write_args

from conftest import veil_cli

FLASHABLE = ["esp32-devkitc", "esp32-s3", "esp32-c3"]


def image(path, size=150_000):
    """An ESP image as far as veil can tell: magic byte, then incompressible bytes."""
    path.write_bytes(b"\xe9" + os.urandom(size - 1))
    return path


@pytest.mark.parametrize("name", FLASHABLE)
def test_write_command_for_each_board_file(name, tmp_path):
    b = boardfile.load(name)
    img = image(tmp_path / "fw.bin")
    args = write_args(b, "/dev/ttyUSB0", img, baud=460800, reset=True)
    i = args.index("esptool")
    assert args[i + 1 :] == [
        "--chip", b.chip, "--port", "/dev/ttyUSB0", "--baud", "460800",
        "--before", "default-reset", "--after", "hard-reset",
        "write-flash", "--erase-all", "--flash-size", b.flash_size,
        hex(b.image_offset), str(img),
    ]  # fmt: skip


@pytest.mark.parametrize("name", FLASHABLE)
def test_flash_erases_and_writes_the_image_at_the_offset(name, tmp_path):
    b = boardfile.load(name)
    img = image(tmp_path / "fw.bin")
    data = img.read_bytes()
    with FakeRom(b.chip) as rom:
        p = veil_cli("flash", rom.url, "--board", name, "--image", img, "--no-reset", cwd=tmp_path)
        assert rom.erased
        assert rom.flash[b.image_offset : b.image_offset + len(data)] == data
        assert rom.flash[b.image_offset + len(data)] == 0xFF  # erased past the image
    assert "Writing at" in p.stderr  # esptool's progress, shown as it goes
    assert f"flashed MicroPython to the {boardfile.load(name).machine[:5]}" in p.stdout


def test_wrong_chip_is_refused_before_anything_is_written(tmp_path):
    img = image(tmp_path / "fw.bin")
    with FakeRom("esp32c3") as rom:
        p = veil_cli(
            "flash", rom.url, "--board", "esp32-devkitc", "--image", img, "--no-reset",
            cwd=tmp_path, check=False,
        )  # fmt: skip
        assert p.returncode == 1
        assert "is an ESP32-C3, but board esp32-devkitc is an ESP32" in p.stderr
        assert "nothing was written" in p.stderr
        assert not rom.erased and 0x11 not in rom.log and 0x03 not in rom.log


def test_image_checks(tmp_path):
    b = boardfile.load("esp32-c3")
    with pytest.raises(FlashError, match="cannot read the image"):
        find_image(b, tmp_path / "missing.bin", tmp_path, download=False)
    (tmp_path / "text.bin").write_text("hello")
    with pytest.raises(FlashError, match="not an ESP32 firmware image"):
        find_image(b, tmp_path / "text.bin", tmp_path, download=False)
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.write(b"\xe9")
        f.truncate(4 * 1024 * 1024 + 1)
    with pytest.raises(FlashError, match="does not fit the 4MB flash"):
        find_image(b, big, tmp_path, download=False)
    with pytest.raises(FlashError, match="no MicroPython image for esp32-c3 in"):
        find_image(b, None, tmp_path / "empty-cache", download=False)


def test_the_newest_cached_image_is_used(tmp_path):
    b = boardfile.load("esp32-s3")
    for name in ("ESP32_GENERIC_S3-20240602-v1.23.0.bin", "ESP32_GENERIC_S3-20250415-v1.25.0.bin",
                 "ESP32_GENERIC-20250415-v1.25.0.bin"):  # fmt: skip
        image(tmp_path / name, 1000)
    assert (
        find_image(b, None, tmp_path, download=False).name
        == "ESP32_GENERIC_S3-20250415-v1.25.0.bin"
    )


@pytest.fixture
def mirror(tmp_path):
    """A download page like micropython.org's on loopback, with two release builds and a
    preview build for ESP32_GENERIC_C3."""
    site = tmp_path / "site"
    (site / "ESP32_GENERIC_C3").mkdir(parents=True)
    (site / "resources" / "firmware").mkdir(parents=True)
    names = [
        "ESP32_GENERIC_C3-20240602-v1.23.0.bin",
        "ESP32_GENERIC_C3-20250415-v1.25.0.bin",
        "ESP32_GENERIC_C3-20250601-v1.26.0-preview.12.gabcdef.bin",
    ]
    for n in names:
        image(site / "resources" / "firmware" / n, 2000)
    links = "".join(f'<a href="/resources/firmware/{n}">{n}</a>\n' for n in names)
    (site / "ESP32_GENERIC_C3" / "index.html").write_text(f"<html>{links}</html>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(site))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", site
    server.shutdown()
    server.server_close()


def test_download_fetches_the_newest_release_into_the_cache(mirror, tmp_path):
    url, site = mirror
    cache = tmp_path / "cache"
    got = find_image(boardfile.load("esp32-c3"), None, cache, download=True, page=url)
    assert got == cache / "ESP32_GENERIC_C3-20250415-v1.25.0.bin"
    want = site / "resources" / "firmware" / got.name
    assert got.read_bytes() == want.read_bytes()
    assert [p.name for p in cache.iterdir()] == [got.name]


def test_offline_download_fails_clearly(tmp_path):
    with socket.socket() as s:  # a port nobody listens on: the machine is "offline"
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    with FakeRom("esp32") as rom:  # the board answers: the chip is checked before downloading
        p = veil_cli(
            "flash", rom.url, "--board", "esp32-devkitc", "--cache", tmp_path / "cache",
            "--no-reset", cwd=tmp_path, check=False, timeout=60,
            env={"VEIL_MICROPYTHON_URL": dead},
        )  # fmt: skip
        assert not rom.erased
    assert p.returncode == 1
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("veil: error: cannot download the MicroPython image from")
    assert "give --image FILE" in line


def test_flash_without_a_board_names_the_missing_port(tmp_path):
    img = image(tmp_path / "fw.bin")
    p = veil_cli(
        "flash", "/dev/ttyUSB9", "--board", "esp32-devkitc", "--image", img,
        cwd=tmp_path, check=False, timeout=30,
    )  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.startswith("veil: error: no board on /dev/ttyUSB9: the port does not exist")


def test_an_unanswering_port_fails_within_the_timeout(tmp_path):
    img = image(tmp_path / "fw.bin")
    with socket.socket() as s:  # accepts the connection, never answers: no ROM there
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        url = f"socket://127.0.0.1:{s.getsockname()[1]}"
        p = veil_cli(
            "flash", url, "--board", "esp32-devkitc", "--image", img, "--no-reset",
            cwd=tmp_path, check=False, timeout=120,
        )  # fmt: skip
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1].startswith("veil: error: esptool: Failed to connect")
