"""`veil fetch`: the board's spooled feed copied to the laptop at the link's speed (this stops
its tick loop until a reset: mpremote interrupts the running firmware to reach the REPL).

The board writes the file into a laptop folder that mpremote mounts as its /remote: the bytes
cross the link in the mount protocol's large blocks, where `mpremote cp` asks for 256 bytes a
round trip (bench/bench_fetch.py measures both against the link's raw rate). The board prints
its progress as it goes, and the copy may take as long as its size needs at MIN_RATE.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import VeilError
from .link import BoardError, BoardLink
from .ports import check_port

MIN_RATE = 5000  # bytes/s a copy may take, under half of 115200 baud's raw 11,520 bytes/s
SETUP_S = 20  # reaching the REPL and mounting the folder, before the first byte
BLOCK = 4096  # bytes the board reads and writes at a time
_EVERY = 16  # blocks between progress lines

_COPY = """\
import os
try:
    size = os.stat({src!r})[6]
except OSError:
    size = -1
print("veil: size", size)
if size >= 0:
    b = bytearray({block})
    n = 0
    with open({src!r}, "rb") as f, open({dst!r}, "wb") as g:
        while True:
            k = f.readinto(b)
            if not k:
                break
            g.write(memoryview(b)[:k])
            n += k
            if not n % {report}:
                print("veil: copied", n)
    print("veil: copied", n)
"""
_SIZE = re.compile(r"veil: size (-?\d+)$")
_COPIED = re.compile(r"veil: copied (\d+)$")


def timeout_for(size: int) -> float:
    """Seconds a copy of `size` bytes may take: the set-up, then MIN_RATE."""
    return SETUP_S + size / MIN_RATE


def copy_feed(
    board: BoardLink,
    remote: str,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy the board file `remote` (relative to the board's root) to `out`, calling
    `progress(done, total)` in bytes as it goes; returns the bytes copied. `out` is replaced
    only once the whole file is there."""
    out = Path(out)
    size = -2  # not known yet: the board prints it first (-1: there is no such file)
    done = 0

    def on_line(line: str) -> None:
        nonlocal size, done
        if m := _SIZE.match(line):
            size = int(m.group(1))
        elif m := _COPIED.match(line):
            done = int(m.group(1))
            if progress:
                progress(done, size)

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".veil-fetch-") as tmp:
        name = Path(remote).name
        code = _COPY.format(
            block=BLOCK, src="/" + remote, dst="/remote/" + name, report=BLOCK * _EVERY
        )
        board.stream(
            code,
            on_line,
            mount=Path(tmp),
            timeout=lambda: timeout_for(max(size, 0)),
            doing=f"copying {remote}",
        )
        if size == -1:
            raise FileNotFoundError(remote)
        got = Path(tmp) / name
        if done < size or size < 0 or not got.is_file() or got.stat().st_size != done:
            raise BoardError(
                f"board on {board.port}: {remote} came off short ({done} of {size} bytes)"
            )
        os.replace(got, out)
    return done


def fetch(
    port: str,
    out: Path,
    remote: str = "feed.jsonl",
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy `remote` off the board on `port` to `out`; returns how many records it holds."""
    check_port(port)
    try:
        copy_feed(BoardLink(port), remote, out, progress=progress)
    except FileNotFoundError:
        raise VeilError(
            f"no {remote} on the board on {port}: it has not published yet "
            f"(provision it, then start it with `veil monitor {port} --reset`)"
        ) from None
    with out.open("rb") as f:
        return sum(1 for _ in f)
