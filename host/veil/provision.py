"""Provisioning: a device's config, decoy profile and the home key onto a board, its spec into
the home."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .board import Board
from .dataset import Series
from .errors import VeilError
from .home import Home
from .protocol import DeviceSpec
from .settingset import put_set


def board_config(spec: DeviceSpec, **settings) -> dict:
    """config.json for a board: the spec, then driver, sink, pace and other settings."""
    return {**spec.to_json(), **settings}


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
    profile: dict,
    series: Series | None = None,
    secrets: dict | None = None,
    files: dict[str, bytes] | None = None,
) -> list[str]:
    """Write the files provisioning puts on a board into `folder` (the key and the transport
    secrets as 0600 files, apart from the settings); returns their names. `folder` may be a
    virtual board's root or a private staging dir."""
    home.key()  # fail on a missing or exposed key before writing anything
    missing = [c["name"] for c in config["channels"] if c["name"] not in profile["channels"]]
    if missing:
        raise VeilError(f"the decoy profile has no model for channel(s) {', '.join(missing)}")
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "profile.json").write_text(json.dumps(profile, separators=(",", ":")))
    _private(folder / "key.bin", home.key_path.read_bytes())
    names = ["config.json", "profile.json", "key.bin"]
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
    profile: dict,
    series: Series | None = None,
    replace: bool = False,
    secrets: dict | None = None,
    files: dict[str, bytes] | None = None,
) -> None:
    """Write config.json, profile.json, key.bin (and replay data, transport secrets and CA) to
    the board as one atomic set (veil.settingset), then record the spec and the profile in the
    home."""
    check_compatible(home, spec, replace)
    with tempfile.TemporaryDirectory(prefix="veil-provision-") as tmp:
        names = stage(Path(tmp), home, config, profile, series, secrets, files)
        put_set(board, {name: Path(tmp) / name for name in names})
    home.save_device(spec)
    home.save_profile(spec.device, profile)
