"""Provisioning: a device's config, decoy profile and the home key onto a board, its spec into
the home.

`provision()` is the whole of `veil provision`: the device is defined by the home's rules
(veil.owner.devices.define_device), its config made from a board file's sensors or from recorded
data, and the set written to the board atomically (veil.boards.settingset).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..dataset import Series
from ..errors import VeilError
from ..owner.devices import Definition, define_device
from ..owner.home import Home
from ..privacy.profile import board_files
from ..private import scratch, write_private
from ..protocol import Channel, DeviceSpec
from . import budget
from .boardfile import BoardFile
from .deploy import check_machine
from .link import BoardLink
from .netconfig import Transport
from .ports import check_port
from .settingset import put_set

SENSOR_PERIOD_MS = 30000
SPOOL = {"type": "spool", "file": "feed.jsonl"}
REPLAY = {"type": "replay", "file": "replay.csv"}


def board_config(spec: DeviceSpec, **settings) -> dict:
    """config.json for a board: the spec, then driver, sink, pace and other settings."""
    return {**spec.to_json(), **settings}


def device_config(
    spec: DeviceSpec,
    *,
    sensors: BoardFile | None = None,
    period_ms: int | None = None,
    log_every: int = 1000,
    sink: dict | None = None,
) -> dict:
    """The config of a device publishing the default sensors of the board file `sensors`
    (every `period_ms`, default 30 s), or without one replaying recorded data (any board; as
    fast as the data allows unless given a period)."""
    if sensors is not None:
        driver, period = sensors.driver_config(), period_ms or SENSOR_PERIOD_MS
    else:
        driver, period = REPLAY, period_ms or 0
    return board_config(
        spec,
        driver=driver,
        sink=sink or SPOOL,
        pace="period" if period else "fast",
        period_ms=period,
        log_every=log_every,
    )


def sensor_channels(board: BoardFile) -> tuple[list[Channel], list[str]]:
    """The channels of the board file's default sensors, and their kinds."""
    if board.replays:
        raise VeilError(f"board {board.name} has no sensors, it replays recorded data: give --csv")
    return board.channels()


def stage(
    folder: Path,
    home: Home,
    config: dict,
    *,
    profile: dict,
    series: Series | None = None,
    transport: Transport | None = None,
) -> list[str]:
    """Write the files provisioning puts on a board into `folder` (the key and the transport
    secrets as 0600 files, the folder made 0700: veil.private); returns their names. `folder`
    may be a virtual board's root or a private staging dir."""
    secrets, files = (transport.secrets, transport.files) if transport else ({}, {})
    home.key()  # fail on a missing or exposed key before writing anything
    missing = [c["name"] for c in config["channels"] if c["name"] not in profile["channels"]]
    if missing:
        raise VeilError(f"the decoy profile has no model for channel(s) {', '.join(missing)}")
    (folder / "config.json").write_text(json.dumps(config))
    doc, tables = board_files(profile, [c["name"] for c in config["channels"]])
    (folder / "profile.json").write_bytes(doc)
    (folder / "decoy.bin").write_bytes(tables)
    write_private(folder / "key.bin", home.key_path.read_bytes())
    names = ["config.json", "profile.json", "decoy.bin", "key.bin"]
    if secrets:
        write_private(folder / "secrets.json", json.dumps(secrets).encode())
        names.append("secrets.json")
    for name, data in files.items():
        (folder / name).write_bytes(data)
        names.append(name)
    if series is not None:
        series.write_replay(folder / "replay.csv")
        names.append("replay.csv")
    return names


def put_device(
    board: BoardLink,
    home: Home,
    definition: Definition,
    *,
    config: dict,
    series: Series | None = None,
    transport: Transport | None = None,
) -> None:
    """Write config.json, profile.json, decoy.bin, key.bin (and replay data, transport secrets
    and CA) to the board as one atomic set (veil.boards.settingset), then record the device in
    the home."""
    with scratch("provision") as tmp:
        names = stage(
            tmp, home, config, profile=definition.profile, series=series, transport=transport
        )
        put_set(board, {name: tmp / name for name in names})
    definition.save(home)


def set_clock(board: BoardLink) -> bool:
    """Set the board's RTC to the laptop's UTC time (sensor readings carry Unix time); False
    on a port without machine.RTC (the virtual board runs on the laptop's clock)."""
    t = dt.datetime.now(dt.UTC)
    stamp = (t.year, t.month, t.day, t.weekday(), t.hour, t.minute, t.second, 0)
    out = board.exec(
        "import machine\ntry:\n    rtc = machine.RTC()\nexcept AttributeError:\n"
        f"    print('no rtc')\nelse:\n    rtc.datetime({stamp!r})"
    )
    return "no rtc" not in out


def define_for_board(
    home: Home,
    device: str,
    *,
    board: BoardFile | None,
    series: Series | None,
    k: int | None,
    epoch: int | None,
    period_ms: int | None,
    log_every: int,
    profile: dict | None,
    replace: bool,
    transport: Transport | None,
    tz: int | None = None,
    weak_decoys: bool = False,
) -> tuple[Definition, dict, BoardFile | None]:
    """The device as its home defines it (define_device), the config.json its board runs
    with, and the board file whose sensors it publishes (None when it replays `series`)."""
    sensors = board if series is None else None
    channels, kinds = sensor_channels(sensors) if sensors else (series.channels, None)
    definition = define_device(
        home,
        device,
        channels,
        k=k,
        epoch=epoch,
        tz=tz,
        profile=profile,
        series=series,
        kinds=kinds,
        replace=replace,
        weak_decoys=weak_decoys,
    )
    config = device_config(
        definition.spec,
        sensors=sensors,
        period_ms=period_ms,
        log_every=log_every,
        sink=transport.sink if transport else None,
    )
    budget.check(config, definition.profile, board)
    return definition, config, sensors


def provision(
    port: str,
    home: Home,
    device: str,
    *,
    board: BoardFile | None = None,
    series: Series | None = None,
    k: int | None = None,
    epoch: int | None = None,
    tz: int | None = None,
    period_ms: int | None = None,
    log_every: int = 1000,
    profile: dict | None = None,
    replace: bool = False,
    weak_decoys: bool = False,
    transport: Transport | None = None,
) -> Definition:
    """Provision `device` of `home` onto the board on `port`: publishing the recorded `series`
    (any board), else the default sensors of `board`, whose chip is checked when given; over a
    network `transport` (veil.boards.netconfig), else into its spool file. A device too big
    for the board's heap (veil.boards.budget) is refused before anything is written. A sensor
    board's clock is set from the laptop's."""
    home.key()  # fail on a missing or exposed key before anything else
    definition, config, sensors = define_for_board(
        home, device, board=board, series=series, k=k, epoch=epoch, tz=tz,
        period_ms=period_ms, log_every=log_every, profile=profile, replace=replace,
        weak_decoys=weak_decoys, transport=transport,
    )  # fmt: skip
    check_port(port)
    link = BoardLink(port)
    if board:
        check_machine(link, board)
    put_device(link, home, definition, config=config, series=series, transport=transport)
    if sensors:
        set_clock(link)
    return definition
