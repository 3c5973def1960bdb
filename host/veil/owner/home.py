"""The owner's home folder (0700): the home key (secret, 0600) and the devices' specs (not
secret).

    <home>/home.key       32 random bytes; never printed, logged or sent to a platform
    <home>/devices.json   {"devices": [DeviceSpec.to_json(), ...]}
    <home>/profiles/      the decoy profile each device was provisioned with (not secret)

Secrets and settings are kept in separate files so that the settings can be shared, diffed and
backed up without the key.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from ..errors import VeilError
from ..private import write_private
from ..protocol import DeviceSpec, HomeKeys, fingerprint

KEY_FILE = "home.key"
DEVICES_FILE = "devices.json"
KEY_LEN = 32


class KeyFileError(VeilError):
    """The home key is missing, unreadable, of the wrong size or too widely readable."""


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Home:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.key_path = self.path / KEY_FILE
        self.devices_path = self.path / DEVICES_FILE

    def keygen(self) -> str:
        """Create the home key from the OS CSPRNG (0600 in the home folder, made 0700);
        refuses to replace an existing one."""
        key = secrets.token_bytes(KEY_LEN)
        try:
            write_private(self.key_path, key, replace=False)
        except FileExistsError:
            raise KeyFileError(
                f"{self.key_path} already exists; a new key would orphan every device and "
                "record made with it (move it away first if you really mean to)"
            ) from None
        return fingerprint(key)

    def key(self) -> bytes:
        """The home key, after checking it is private to its owner."""
        try:
            st = self.key_path.stat()
        except FileNotFoundError:
            raise KeyFileError(f"no home key at {self.key_path}: run `veil keygen` first") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"{self.key_path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {self.key_path}"
            )
        key = self.key_path.read_bytes()
        if len(key) != KEY_LEN:
            raise KeyFileError(f"{self.key_path} is not a {KEY_LEN}-byte veil home key")
        return key

    def keys(self) -> HomeKeys:
        return HomeKeys(self.key())

    def for_records(self) -> tuple[HomeKeys, dict[str, DeviceSpec]]:
        """The key and the devices, for a job that reads records the home's devices made
        (decode, profile fit, audit). A missing key or device list here most often means the
        wrong folder, and a new key would not help: the hints say so."""
        if not self.key_path.exists():
            raise KeyFileError(
                f"no home key at {self.key_path}: give the --home folder (or VEIL_HOME) of the "
                "home whose devices made these records (a new key from `veil keygen` cannot "
                "decode them)"
            )
        return self.keys(), self.require_devices()

    def secrets(self) -> list[bytes]:
        """What a log shown to the user must mask: the key, if the home has one (read even
        when too widely readable: masking it then matters all the more)."""
        return [self.key_path.read_bytes()] if self.key_path.is_file() else []

    def devices(self) -> dict[str, DeviceSpec]:
        if not self.devices_path.exists():
            return {}
        try:
            doc = json.loads(self.devices_path.read_text())
            specs = [DeviceSpec.from_json(d) for d in doc["devices"]]
        except (ValueError, KeyError, TypeError) as e:
            raise VeilError(f"{self.devices_path} is damaged: {e}") from None
        return {s.device: s for s in specs}

    def require_devices(self) -> dict[str, DeviceSpec]:
        """The devices, for a job that needs at least one (decode, profile fit, audit)."""
        specs = self.devices()
        if not specs:
            raise VeilError(
                f"{self.path} has a key but no devices: give the --home folder of the home "
                "these records came from, or define a device in this one first (`veil up`, "
                "`veil provision` or `veil sim`)"
            )
        return specs

    def device(self, name: str) -> DeviceSpec:
        devices = self.devices()
        if name not in devices:
            known = ", ".join(sorted(devices)) or "none yet"
            raise VeilError(f"no device {name!r} in {self.path} (known: {known})")
        return devices[name]

    def save_device(self, spec: DeviceSpec) -> None:
        """Add or replace one device's spec, keeping the others."""
        devices = self.devices()
        devices[spec.device] = spec
        self.path.mkdir(parents=True, exist_ok=True)
        doc = {"devices": [devices[n].to_json() for n in sorted(devices)]}
        _atomic_write(self.devices_path, (json.dumps(doc, indent=1) + "\n").encode(), 0o644)

    def profile_path(self, device: str) -> Path:
        return self.path / "profiles" / f"{device}.json"

    def profile(self, device: str) -> dict | None:
        """The decoy profile the device was last provisioned with, if any."""
        from ..privacy.profile import load as load_profile  # numpy: only when needed

        path = self.profile_path(device)
        return load_profile(path) if path.exists() else None

    def occupancy(self) -> dict | None:
        """The occupancy model the home's devices share (from any saved profile), if any:
        a new device must tell the same household stories as its siblings."""
        from ..privacy.profile import load as load_profile

        for path in sorted((self.path / "profiles").glob("*.json")):
            return load_profile(path)["occupancy"]
        return None

    def save_profile(self, device: str, profile: dict) -> None:
        path = self.profile_path(device)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, (json.dumps(profile, separators=(",", ":")) + "\n").encode(), 0o644)
