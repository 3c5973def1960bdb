"""The devices of one home: what each is provisioned with, from a board file's sensors or from
recorded data, under the one home key.

All devices of a home must share k and the epoch: the k virtual households are derived from
the home key, k and the epoch, so that fake household j tells one story on every device
(docs/protocol.md section 3). A new device therefore takes the home's k and epoch.
"""

from __future__ import annotations

import datetime as dt

from .board import Board
from .boards import Board as BoardDef
from .dataset import Series
from .errors import VeilError
from .home import Home
from .protocol import DeviceSpec
from .provision import board_config

DEFAULT_K = 4
SENSOR_PERIOD_MS = 30000
SPOOL = {"type": "spool", "file": "feed.jsonl"}


def household(home: Home, device: str, k: int | None, epoch: int | None) -> tuple[int, int]:
    """k and epoch for `device`: the ones its home's other devices use, else its own from an
    earlier provisioning, else the defaults."""
    known = home.devices()
    others = {n: s for n, s in known.items() if n != device}
    shared = {(s.k, s.epoch) for s in others.values()}
    if len(shared) > 1:
        raise VeilError(f"the devices of {home.path} disagree on k and epoch: {sorted(shared)}")
    if not shared:
        own = known.get(device)
        default_k, default_epoch = (own.k, own.epoch) if own else (DEFAULT_K, 0)
        return k or default_k, default_epoch if epoch is None else epoch
    home_k, home_epoch = shared.pop()
    if (k or home_k, home_epoch if epoch is None else epoch) != (home_k, home_epoch):
        raise VeilError(
            f"the home {home.path} uses k={home_k} and epoch {home_epoch} for "
            f"{', '.join(sorted(others))}; every device of a home must use the same, so that "
            "its fake households tell one story across devices"
        )
    return home_k, home_epoch


def sensor_device(
    definition: BoardDef,
    device: str,
    k: int,
    epoch: int,
    period_ms: int | None,
    log_every: int,
    sink: dict | None = None,
) -> tuple[DeviceSpec, dict]:
    """The spec and board config of a device publishing the board file's default sensors."""
    if definition.replays:
        raise VeilError(
            f"board {definition.name} has no sensors, it replays recorded data: give --csv"
        )
    channels, _kinds = definition.channels()
    spec = DeviceSpec(device, k, epoch, tuple(channels))
    config = board_config(
        spec,
        driver=definition.driver_config(),
        sink=sink or SPOOL,
        pace="period",
        period_ms=period_ms or SENSOR_PERIOD_MS,
        log_every=log_every,
    )
    return spec, config


def replay_device(
    series: Series,
    device: str,
    k: int,
    epoch: int,
    period_ms: int | None,
    log_every: int,
    sink: dict | None = None,
) -> tuple[DeviceSpec, dict]:
    """The spec and board config of a device replaying recorded data (any board)."""
    spec = DeviceSpec(device, k, epoch, tuple(series.channels))
    config = board_config(
        spec,
        driver={"type": "replay", "file": "replay.csv"},
        sink=sink or SPOOL,
        pace="period" if period_ms else "fast",
        period_ms=period_ms or 0,
        log_every=log_every,
    )
    return spec, config


def set_clock(board: Board) -> bool:
    """Set the board's RTC to the laptop's UTC time (sensor readings carry Unix time); False
    on a port without machine.RTC (the virtual board runs on the laptop's clock)."""
    t = dt.datetime.now(dt.UTC)
    stamp = (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)
    out = board.exec(
        "import machine\ntry:\n    rtc = machine.RTC()\nexcept AttributeError:\n"
        f"    print('no rtc')\nelse:\n    rtc.datetime({stamp!r})"
    )
    return "no rtc" not in out
