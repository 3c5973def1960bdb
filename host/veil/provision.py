"""Provisioning: a device's config, decoy profile and the home key onto a board, its spec into
the home."""

from __future__ import annotations

import json
import shutil
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


def stage(
    folder: Path, home: Home, config: dict, profile: dict, series: Series | None = None
) -> list[str]:
    """Write the files provisioning puts on a board into `folder` (the key as a 0600 copy);
    returns their names. `folder` may be a virtual board's root or a private staging dir."""
    home.key()  # fail on a missing or exposed key before writing anything
    missing = [c["name"] for c in config["channels"] if c["name"] not in profile["channels"]]
    if missing:
        raise VeilError(f"the decoy profile has no model for channel(s) {', '.join(missing)}")
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "profile.json").write_text(json.dumps(profile, separators=(",", ":")))
    key = folder / "key.bin"
    key.unlink(missing_ok=True)
    key.touch(0o600)
    shutil.copyfile(home.key_path, key)
    names = ["config.json", "profile.json", "key.bin"]
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
) -> None:
    """Write config.json, profile.json, key.bin (and replay data) to the board as one atomic
    set (veil.settingset), then record the spec and the profile in the home."""
    check_compatible(home, spec, replace)
    with tempfile.TemporaryDirectory(prefix="veil-provision-") as tmp:
        names = stage(Path(tmp), home, config, profile, series)
        put_set(board, {name: Path(tmp) / name for name in names})
    home.save_device(spec)
    home.save_profile(spec.device, profile)
