"""`veil fetch`: the board's spooled feed copied to the laptop (this stops its tick loop until
a reset: mpremote interrupts the running firmware to reach the REPL)."""

from __future__ import annotations

from pathlib import Path

from ..errors import VeilError
from .link import BoardError, BoardLink
from .ports import check_port


def fetch(port: str, out: Path, remote: str = "feed.jsonl") -> int:
    """Copy `remote` off the board on `port` to `out`; returns how many records it holds."""
    check_port(port)
    board = BoardLink(port)
    try:
        board.exec(f"import os; os.stat({remote!r})")
    except BoardError as e:
        if "ENOENT" not in str(e):
            raise
        raise VeilError(
            f"no {remote} on the board on {port}: it has not published yet "
            f"(provision it, then start it with `veil monitor {port} --reset`)"
        ) from None
    board.get_file(remote, out)
    return sum(1 for _ in out.open("rb"))
