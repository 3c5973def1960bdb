"""Provisioning: a device's config and the home key onto a board, its spec into the home."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .board import Board
from .dataset import Series
from .errors import VeilError
from .home import Home
from .protocol import DeviceSpec


def board_config(spec: DeviceSpec, hints: list[dict] | None = None, **settings) -> dict:
    """config.json for a board: the spec, decoy hints per channel, then driver/sink/pace."""
    channels = []
    for i, c in enumerate(spec.channels):
        entry = c.to_json()
        if hints:
            entry.update(hints[i])
        channels.append(entry)
    return {
        "device": spec.device,
        "k": spec.k,
        "epoch": spec.epoch,
        "channels": channels,
        **settings,
    }


def check_compatible(home: Home, spec: DeviceSpec, replace: bool) -> None:
    """Refuse to silently redefine a device: its old records would no longer decode."""
    old = home.devices().get(spec.device)
    if old and old != spec and not replace:
        raise VeilError(
            f"device {spec.device} is already provisioned with a different spec "
            "(channels, k or epoch); records made under the old spec would no longer decode. "
            "Use another device name, or --replace to redefine it"
        )


def _private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    path.touch(0o600)
    path.write_bytes(data)


def stage(
    folder: Path,
    home: Home,
    config: dict,
    series: Series | None = None,
    secrets: dict | None = None,
    files: dict[str, bytes] | None = None,
) -> list[str]:
    """Write the files provisioning puts on a board into `folder` (the key and the transport
    secrets as 0600 files, apart from the settings); returns their names. `folder` may be a
    virtual board's root or a private staging dir."""
    home.key()  # fail on a missing or exposed key before writing anything
    (folder / "config.json").write_text(json.dumps(config))
    _private(folder / "key.bin", home.key_path.read_bytes())
    names = ["config.json", "key.bin"]
    if secrets:
        _private(folder / "secrets.json", json.dumps(secrets).encode())
        names.append("secrets.json")
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
        names.append(name)
    if series is not None:
        series.write_replay(folder / "replay.csv")
        names.append("replay.csv")
    return names


def provision(
    board: Board,
    home: Home,
    spec: DeviceSpec,
    config: dict,
    series: Series | None = None,
    replace: bool = False,
    secrets: dict | None = None,
    files: dict[str, bytes] | None = None,
) -> None:
    """Write config.json, key.bin (and replay data, transport secrets and CA) to the board,
    each file atomically, then record the spec in the home."""
    check_compatible(home, spec, replace)
    with tempfile.TemporaryDirectory(prefix="veil-provision-") as tmp:
        names = stage(Path(tmp), home, config, series, secrets, files)
        board.put_files({name: Path(tmp) / name for name in names})
    home.save_device(spec)
