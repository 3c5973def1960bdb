"""Does a device fit its board's heap? Checked on the laptop before anything is written.

`needed()` estimates the most heap the firmware holds on a 32-bit MicroPython (an ESP32)
while it boots, when the parsed decoy profile, the code and the device being built are alive
at once; running, it holds less (docs/boards.md, "Heap"). The figures are fitted to
bench/bench_tick.py's 32-bit measurements (bench/mp32) over 1 to 8 channels and k = 2 to 8,
rounded up (2026-12-02, decoys v2: tables in decoy.bin); CODE and PER_CURVE were raised for
the climate walks' day's curves (main at 9ffa923). When the decoy profile's format or the
firmware changes, measure again and update them here.

On top of them, HEADROOM: the same device does not always take the same heap. The modules'
paths are on the heap (a longer folder, a few hundred bytes more), and two boots in 24 of
tests/test_mp32.py's six-channel probe (a fresh home key each, 2026-12-02) held 6,048 bytes
more from boot on, through every tick: a peak of 88,976 bytes where the others peaked at
82,928 (CI measured 88,816 against the 83,197 then estimated).
The likely cause: MicroPython's collector is conservative, on an ESP32 too, and a word of
live data that happens to equal a dead block's address keeps that block, and what it points
to, alive.
"""

from __future__ import annotations

from ..errors import VeilError
from ..privacy.profile import board_files
from .boardfile import BoardFile, known, load

CODE = 38_000  # the firmware's modules as .mpy (a network sink's too), config, state, what all have
PER_PROFILE_BYTE = 2.2  # the parsed profile, per byte of profile.json
PER_TABLE_BYTE = 1.0  # the decoy tables, read from decoy.bin into one buffer a channel
PER_CHANNEL = 2_036  # a channel's walks, encoder and driver state, its floor but the hours
# an hour of a walked channel's floor: its ring and the snapshot's two copies (4 bytes each);
# with the default 72-hour floor a channel takes what it was measured at, 2,900 bytes
PER_FLOOR_HOUR = 12
PER_TRACK = 2_300  # a track's keystreams, values and walks
# a climate channel's day's curves (the fit's and the real day's, 24 ints each) and their
# place in the snapshot's two copies
PER_CURVE = 450
HEADROOM = 8_192  # what one boot may hold beyond another of the same device (see above)


class BudgetError(VeilError):
    """The device would not fit its board's heap."""


def board_bytes(config: dict, profile: dict) -> tuple[int, int]:
    """The sizes of profile.json and decoy.bin as provisioning writes them."""
    doc, tables = board_files(profile, [c["name"] for c in config["channels"]])
    return len(doc), len(tables)


def needed(config: dict, profile: dict) -> int:
    """The heap (bytes, 32-bit) the device of `config` with decoy `profile` needs at most."""
    channels = len(config["channels"])
    k = config["k"]
    doc, tables = board_bytes(config, profile)
    parsed = PER_PROFILE_BYTE * doc + PER_TABLE_BYTE * tables
    models = [profile["channels"].get(c["name"], {}) for c in config["channels"]]
    hours = sum(m["floor"][0] for m in models if "floor" in m and not m.get("shared"))
    curves = sum(1 for m in models if m.get("follow"))
    return int(
        CODE
        + parsed
        + PER_CHANNEL * channels
        + PER_FLOOR_HOUR * hours
        + PER_CURVE * curves
        + PER_TRACK * k
        + HEADROOM
    )


def budget(board: BoardFile | None) -> tuple[int, str]:
    """The heap the firmware may use and whose it is: a real board's own; for the virtual
    board or none, the smallest real board's (the virtual board stands for it)."""
    if board is not None and board.chip != "unix":
        return board.heap, f"board {board.name}"
    real = [load(name) for name in known() if name != "virtual"]
    heap = min(b.heap for b in real)
    names = ", ".join(b.name for b in real if b.heap == heap)
    return heap, f"the smallest board ({names})"


def check(config: dict, profile: dict, board: BoardFile | None = None) -> int:
    """Refuse a device that would not fit (BudgetError, one line); returns what it needs."""
    need = needed(config, profile)
    heap, name = budget(board)
    if need > heap:
        what = f"{len(config['channels'])} channels, k = {config['k']}"
        raise BudgetError(
            f"device {config['device']} needs about {need:,} bytes of heap ({what}, a "
            f"{sum(board_bytes(config, profile)):,}-byte decoy profile), more than the "
            f"{heap:,} bytes of {name}: use fewer channels (--channel) or a smaller k"
        )
    return need
