"""Writing a board's settings files (config.json, key.bin, ...) as one set, atomically.

Each file goes to NAME.new, then the commit record lists the set, then the board's own
`veil.settings.apply()` renames them into place; the firmware finishes or drops an interrupted
update at boot (firmware/veil/settings.py, docs/deploy.md). A power cut at any point leaves
the old set or the new one, never a mix.
"""

from __future__ import annotations

from pathlib import Path

from .link import BoardError, BoardLink

COMMIT = "settings.commit"


def put_set(board: BoardLink, files: dict[str, Path]) -> None:
    """Replace the board's settings files named in `files` (board name -> local file)."""
    for name in files:
        if "/" in name or name.endswith((".new", ".tmp")):
            raise ValueError(f"not a settings file name: {name}")
    try:
        board.exec("import veil.settings")
    except BoardError as e:
        if "ImportError" not in str(e):
            raise
        raise BoardError(
            f"the board on {board.port} has no veil firmware: run `veil deploy {board.port}` first"
        ) from None
    chain: list[str] = []
    for name, local in files.items():
        chain += ["cp", str(local), f":{name}.new", "+"]
    record = "".join(f"{name}\n" for name in files)
    chain += [
        "exec",
        f"import os\nwith open({COMMIT + '.tmp'!r}, 'w') as f:\n    f.write({record!r})\n"
        f"os.rename({COMMIT + '.tmp'!r}, {COMMIT!r})\n"
        "from veil import settings\nsettings.apply()",
    ]
    board.mpremote(*chain)
