"""`veil flash`: MicroPython onto a board with esptool, after checking it is the right chip.

The image is the one given, else the newest official build for the board in the local cache
folder, else (when online) downloaded from micropython.org into the cache. esptool runs as a
subprocess (`python -m esptool`, v5 command names): first `read-mac` with chip detection, to
compare the chip with the board file before anything is erased, then `write-flash --erase-all`
at the board's image offset, its output shown as progress.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import VeilError
from .boardfile import BoardFile
from .ports import check_port

DOWNLOAD_PAGE = "https://micropython.org/download/"
IMAGE_MAGIC = 0xE9  # first byte of an ESP bootloader image, where a MicroPython .bin starts
DETECT_TIMEOUT = 60
WRITE_TIMEOUT = 900
DOWNLOAD_TIMEOUT = 30
_SIZES = {f"{n}MB": n << 20 for n in (1, 2, 4, 8, 16, 32, 64, 128)}
_FATAL = re.compile(r"A fatal error occurred: (.*)")
_DETECTED = re.compile(r"Detecting chip type\.*\s*(ESP[\w-]+)")


class FlashError(VeilError):
    """No image, no board, the wrong chip, or esptool failed."""


def cache_dir() -> Path:
    """Where downloaded images are kept: $VEIL_CACHE, else the user's cache folder."""
    if "VEIL_CACHE" in os.environ:
        return Path(os.environ["VEIL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "veil" / "micropython"


def check_image(board: BoardFile, image: Path) -> None:
    """The file must be a readable ESP image that fits the board's flash at its offset."""
    try:
        size = image.stat().st_size
        with image.open("rb") as f:
            first = f.read(1)
    except OSError as e:
        raise FlashError(f"cannot read the image {image}: {e.strerror}") from None
    if not first or first[0] != IMAGE_MAGIC:
        raise FlashError(f"{image} is not an ESP32 firmware image (it does not start with 0xE9)")
    room = _SIZES[board.flash_size] - board.image_offset
    if size > room:
        raise FlashError(
            f"{image} ({size} bytes) does not fit the {board.flash_size} flash of "
            f"{board.name} at {board.image_offset:#x}"
        )


def cached_image(board: BoardFile, cache: Path) -> Path | None:
    """The newest official build for the board in `cache` (names carry the date)."""
    found = sorted(cache.glob(f"{board.micropython}-*.bin"))
    return found[-1] if found else None


def download_image(board: BoardFile, cache: Path, page: str = DOWNLOAD_PAGE) -> Path:
    """Fetch the newest release build listed on the board's download page into `cache`."""
    url = urllib.parse.urljoin(page, f"{board.micropython}/")
    hint = f"give --image FILE, or put {board.micropython}-*.bin into {cache}"
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as r:
            html = r.read().decode(errors="replace")
        names = re.findall(
            rf'href="([^"]*?/({re.escape(board.micropython)}-\d{{8}}-v\d+\.\d+\.\d+\.bin))"', html
        )
        if not names:
            raise FlashError(f"no release image for {board.micropython} listed at {url}; {hint}")
        link, name = max(names, key=lambda n: n[1])
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / (name + ".part")
        with urllib.request.urlopen(urllib.parse.urljoin(url, link), timeout=DOWNLOAD_TIMEOUT) as r:
            tmp.write_bytes(r.read())
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise FlashError(
            f"cannot download the MicroPython image from {url} ({reason}); {hint}"
        ) from None
    target = cache / name
    tmp.replace(target)
    return target


def find_image(
    board: BoardFile,
    image: Path | None,
    cache: Path,
    *,
    download: bool,
    page: str = DOWNLOAD_PAGE,
) -> Path:
    """`image` if given, else the newest cached build, else one downloaded from `page`."""
    if not board.flashable:
        raise FlashError(f"board {board.name} cannot be flashed ({board.description})")
    if image is None:
        image = cached_image(board, cache)
    if image is None:
        if not download:
            raise FlashError(
                f"no MicroPython image for {board.name} in {cache}: give --image FILE, or "
                "allow the download"
            )
        image = download_image(board, cache, page)
    check_image(board, image)
    return image


def esptool_args(
    port: str, chip: str, baud: int, *command: str, reset: bool = True, after: str = "no-reset"
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "esptool",
        "--chip",
        chip,
        "--port",
        port,
        "--baud",
        str(baud),
        "--before",
        "default-reset" if reset else "no-reset",
        "--after",
        after if reset else "no-reset",
        *command,
    ]


def write_args(board: BoardFile, port: str, image: Path, *, baud: int, reset: bool) -> list[str]:
    """Erase the whole flash and write the image at the board's offset, then reset the chip."""
    return esptool_args(
        port,
        board.chip,
        baud,
        "write-flash",
        "--erase-all",
        "--flash-size",
        board.flash_size,
        f"{board.image_offset:#x}",
        str(image),
        reset=reset,
        after="hard-reset",
    )


def run_esptool(args: list[str], timeout: float, out: Callable[[str], None] | None = None) -> str:
    """Run esptool, handing each output line to `out`; returns the output or raises FlashError
    with esptool's own reason."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1")
    p = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    lines = []
    assert p.stdout is not None
    try:
        for line in p.stdout:
            line = line.rstrip()
            lines.append(line)
            if out and line:
                out(line)
        code = p.wait()
    finally:
        timer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    text = "\n".join(lines)
    if code < 0:
        raise FlashError(f"esptool did not finish within {timeout:.0f} s")
    if code:
        fatal = _FATAL.findall(text)
        reason = fatal[-1] if fatal else next((ln for ln in reversed(lines) if ln), "no output")
        raise FlashError(f"esptool: {reason.strip().rstrip('.')}{remedy(reason)}")
    return text


def remedy(reason: str) -> str:
    """The usual fixes for esptool's failures to reach the chip, as a hint to append."""
    if "Failed to connect" in reason or "No serial data received" in reason:
        return (
            "; hold BOOT while pressing EN (or while plugging it in) to start its bootloader, "
            "check the USB cable carries data, or try --no-reset if it is already waiting"
        )
    if "Permission denied" in reason or "could not open port" in reason:
        return "; close any other program using the port (a serial monitor, `veil monitor`)"
    return ""


def detect_chip(port: str, baud: int, reset: bool = True) -> str:
    """The chip esptool finds on `port`, by its name ("ESP32-S3")."""
    text = run_esptool(esptool_args(port, "auto", baud, "read-mac", reset=reset), DETECT_TIMEOUT)
    m = _DETECTED.search(text)
    if not m:
        raise FlashError(f"esptool did not report the chip on {port}")
    return m.group(1)


def chip_name(chip: str) -> str:
    from esptool.targets import CHIP_DEFS

    return CHIP_DEFS[chip].CHIP_NAME


def flash(
    board: BoardFile,
    port: str,
    *,
    image: Path | None = None,
    cache: Path | None = None,
    download: bool = True,
    baud: int | None = None,
    reset: bool = True,
    out: Callable[[str], None] | None = None,
) -> str:
    """Check the chip on `port`, find the image (find_image: `image`, else the newest in
    `cache`, default cache_dir(), else downloaded from $VEIL_MICROPYTHON_URL or
    micropython.org), then erase the flash and write the image. The board is checked first,
    so that a silent port fails before any download. Returns the chip found."""
    if not board.flashable:
        raise FlashError(f"board {board.name} cannot be flashed ({board.description})")
    if image is not None:
        check_image(board, image)
    check_port(port)
    baud = baud or board.baud
    if out:
        out(f"checking the chip on {port}")
    found = detect_chip(port, baud, reset)
    want = chip_name(board.chip)
    if found != want:
        raise FlashError(
            f"the board on {port} is an {found}, but board {board.name} is an {want}: "
            "nothing was written; choose the matching --board"
        )
    page = os.environ.get("VEIL_MICROPYTHON_URL") or DOWNLOAD_PAGE
    image = find_image(board, image, cache or cache_dir(), download=download, page=page)
    if out:
        out(
            f"{found} on {port} matches {board.name}: erasing, then writing {image} at "
            f"{board.image_offset:#x}"
        )
    run_esptool(write_args(board, port, image, baud=baud, reset=reset), WRITE_TIMEOUT, out)
    return found
