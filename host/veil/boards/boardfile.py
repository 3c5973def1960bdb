"""Board definitions: one declarative TOML file per board in boards/ (schema in docs/boards.md).

A board file says how to flash the board (chip as esptool names it, flash size, where the
MicroPython image goes), which MicroPython build it runs, its default I2C bus and pins, which
sensors it supports and which it carries by default. Provisioning turns the sensor set into the
device's channels and the firmware's composite driver configuration.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VeilError
from ..firmware import boards_dir
from ..protocol import NAME_RE, Channel
from .sensors import SENSORS

FLASH_SIZES = ("1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB")
_KEYS = {
    "name",
    "description",
    "chip",
    "machine",
    "flash_size",
    "image_offset",
    "micropython",
    "baud",
    "heap",
    "supported",
    "i2c",
    "sensors",
    "usb",
}
_FLASH_KEYS = ("flash_size", "image_offset", "micropython")
_SENSOR_KEYS = {
    "i2c": {"type", "addr", "channels", "names"},
    "pin": {"type", "pin", "pull", "channels", "names"},
    "file": {"type", "file"},
}
_PULLS = ("up", "down", "none")


class BoardFileError(VeilError):
    """A board name that is not known, or a board file that does not follow the schema."""


@dataclass(frozen=True)
class SensorUse:
    """One sensor as the board carries it: its type, bus options and published quantities."""

    type: str
    options: dict
    keys: tuple[str, ...]
    names: dict = field(default_factory=dict)

    def channel_names(self) -> list[str]:
        return [self.names.get(k, k) for k in self.keys]


@dataclass(frozen=True)
class BoardFile:
    name: str
    description: str
    chip: str
    machine: str
    supported: tuple[str, ...]
    sensors: tuple[SensorUse, ...]
    path: Path
    heap: int  # bytes of MicroPython heap the firmware may use (docs/boards.md, "Heap")
    flash_size: str | None = None
    image_offset: int | None = None
    micropython: str | None = None
    baud: int = 460800
    i2c: dict | None = None
    usb: tuple[tuple[int, int], ...] = ()  # (vendor id, product id) of its USB serial chips

    @property
    def flashable(self) -> bool:
        return self.image_offset is not None

    @property
    def replays(self) -> bool:
        """True when the board's default sensor is recorded data (the virtual board)."""
        return any(s.type == "replay" for s in self.sensors)

    def channels(self) -> tuple[list[Channel], list[str]]:
        """The device channels of the default sensor set, in order, and their kinds."""
        chans, kinds = [], []
        for use in self.sensors:
            sensor = SENSORS[use.type]
            for key, name in zip(use.keys, use.channel_names(), strict=True):
                q = sensor.quantity(key)
                chans.append(Channel(name, q.dec, q.lo, q.hi))
                kinds.append(q.kind)
        return chans, kinds

    def to_json(self) -> dict:
        """What `veil boards --json` shows of the board."""
        doc = {
            "name": self.name,
            "description": self.description,
            "chip": self.chip,
            "machine": self.machine,
            "flashable": self.flashable,
            "supported": list(self.supported),
            "usb": [f"{v:04x}:{p:04x}" for v, p in self.usb],
            "sensors": [
                {"type": s.type, "channels": s.channel_names(), **s.options} for s in self.sensors
            ],
        }
        if self.flashable:
            doc.update(
                flash_size=self.flash_size,
                image_offset=self.image_offset,
                micropython=self.micropython,
                baud=self.baud,
            )
        return doc

    def driver_config(self) -> dict:
        """The firmware's composite driver: the bus, then each sensor with `map`, the device
        channel index of each quantity its driver reads (-1: read but not published)."""
        parts, n = [], 0
        for use in self.sensors:
            index = []
            for q in SENSORS[use.type].quantities:
                if q.key in use.keys:
                    index.append(n + use.keys.index(q.key))
                else:
                    index.append(-1)
            n += len(use.keys)
            parts.append({"type": use.type, **use.options, "map": index})
        driver: dict = {"type": "composite", "sensors": parts}
        if self.i2c:
            driver["i2c"] = dict(self.i2c)
        return driver


def known() -> dict[str, Path]:
    """Board name -> file, for every board file shipped in boards/."""
    return {p.stem: p for p in sorted(boards_dir().glob("*.toml"))}


def load(name: str) -> BoardFile:
    """A shipped board by name, or any board file by path (a name ending in .toml)."""
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise BoardFileError(f"no board file {path}")
    else:
        boards = known()
        if name not in boards:
            raise BoardFileError(
                f"unknown board {name!r}; known boards: {', '.join(boards)} "
                "(or give the path of a .toml board file)"
            )
        path = boards[name]
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise BoardFileError(f"{path}: {e}") from None
    return parse(doc, path)


def _need(doc: dict, key: str, kind: type, where: str):
    if key not in doc:
        raise BoardFileError(f"{where}: missing {key!r}")
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BoardFileError(f"{where}: {key!r} must be a {kind.__name__}")
    return value


def parse(doc: dict, path: Path) -> BoardFile:
    """Check a board file against the schema; every mistake is reported with the file."""
    where = str(path)
    unknown = set(doc) - _KEYS
    if unknown:
        raise BoardFileError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    name = _need(doc, "name", str, where)
    if not NAME_RE.match(name):
        raise BoardFileError(f"{where}: bad board name {name!r}")
    chip = _need(doc, "chip", str, where)
    supported = tuple(_need(doc, "supported", list, where))
    for t in supported:
        if t not in SENSORS:
            raise BoardFileError(
                f"{where}: supported sensor {t!r} has no driver (known: {', '.join(SENSORS)})"
            )
    flash = {k: doc[k] for k in _FLASH_KEYS if k in doc}
    if flash and len(flash) != len(_FLASH_KEYS):
        raise BoardFileError(f"{where}: a flashable board needs all of {', '.join(_FLASH_KEYS)}")
    if flash:
        _check_flash(doc, chip, where)
    i2c = doc.get("i2c")
    if i2c is not None:
        for key in ("id", "sda", "scl", "freq"):
            _need(i2c, key, int, f"{where} [i2c]")
    sensors = tuple(
        _sensor(s, supported, i2c, f"{where} sensor {i + 1}")
        for i, s in enumerate(_need(doc, "sensors", list, where))
    )
    if not sensors:
        raise BoardFileError(f"{where}: the default sensor set is empty")
    board = BoardFile(
        name=name,
        description=_need(doc, "description", str, where),
        chip=chip,
        machine=_need(doc, "machine", str, where),
        supported=supported,
        sensors=sensors,
        path=path,
        heap=_heap(doc, where),
        flash_size=flash.get("flash_size"),
        image_offset=flash.get("image_offset"),
        micropython=flash.get("micropython"),
        baud=doc.get("baud", 460800),
        i2c=i2c,
        usb=_usb_ids(doc.get("usb", []), where),
    )
    names = [n for use in sensors for n in use.channel_names()]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BoardFileError(
            f"{where}: channel names {', '.join(dup)} occur twice; rename one with "
            'names = {{{}= "..."}} or publish fewer with channels = [...]'.format(dup[0])
        )
    return board


def _usb_ids(ids, where: str) -> tuple[tuple[int, int], ...]:
    """`usb = ["10c4:ea60", ...]`: the USB vendor and product ids of the board's serial chips,
    by which `veil ports` and PORT `auto` recognise it."""
    if not isinstance(ids, list):
        raise BoardFileError(f"{where}: 'usb' must be a list of \"VID:PID\" strings")
    out = []
    for text in ids:
        m = (
            re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", text)
            if isinstance(text, str)
            else None
        )
        if not m:
            raise BoardFileError(f'{where}: bad USB id {text!r} (give "VID:PID" in hex)')
        out.append((int(m.group(1), 16), int(m.group(2), 16)))
    return tuple(out)


def _heap(doc: dict, where: str) -> int:
    heap = _need(doc, "heap", int, where)
    if not 16 * 1024 <= heap <= 64 * 1024 * 1024:
        raise BoardFileError(f"{where}: heap must be 16 KiB to 64 MiB in bytes, not {heap}")
    return heap


def _check_flash(doc: dict, chip: str, where: str) -> None:
    from esptool.targets import CHIP_DEFS

    if chip not in CHIP_DEFS:
        raise BoardFileError(f"{where}: esptool knows no chip {chip!r}")
    if doc["flash_size"] not in FLASH_SIZES:
        raise BoardFileError(f"{where}: flash_size must be one of {', '.join(FLASH_SIZES)}")
    offset = _need(doc, "image_offset", int, where)
    want = CHIP_DEFS[chip].BOOTLOADER_FLASH_OFFSET
    if offset != want:
        raise BoardFileError(
            f"{where}: a MicroPython image for {chip} starts with the bootloader at "
            f"{want:#x}, not {offset:#x}"
        )
    _need(doc, "micropython", str, where)
    _need(doc, "baud", int, where)


def _sensor(entry: dict, supported: tuple, i2c: dict | None, where: str) -> SensorUse:
    t = _need(entry, "type", str, where)
    if t not in supported:
        raise BoardFileError(f"{where}: {t!r} is not among the board's supported sensors")
    sensor = SENSORS[t]
    unknown = set(entry) - _SENSOR_KEYS[sensor.bus]
    if unknown:
        raise BoardFileError(f"{where} ({t}): unknown keys {', '.join(sorted(unknown))}")
    options: dict = {}
    if sensor.bus == "i2c":
        if i2c is None:
            raise BoardFileError(f"{where} ({t}): an I2C sensor needs the board's [i2c] table")
        addr = entry.get("addr", sensor.addr)
        if not isinstance(addr, int) or not 0x08 <= addr <= 0x77:
            raise BoardFileError(f"{where} ({t}): addr must be a 7-bit I2C address")
        options["addr"] = addr
    elif sensor.bus == "pin":
        options["pin"] = _need(entry, "pin", int, f"{where} ({t})")
        if "pull" in entry:
            if entry["pull"] not in _PULLS:
                raise BoardFileError(f"{where} ({t}): pull must be one of {', '.join(_PULLS)}")
            options["pull"] = entry["pull"]
    else:
        options["file"] = entry.get("file", "replay.csv")
        return SensorUse(t, options, ())
    all_keys = [q.key for q in sensor.quantities]
    keys = tuple(entry.get("channels", all_keys))
    bad = [k for k in keys if k not in all_keys]
    if bad or not keys:
        raise BoardFileError(
            f"{where} ({t}): channels must be some of {', '.join(all_keys)}, not {bad or 'none'}"
        )
    names = dict(entry.get("names", {}))
    for key, name in names.items():
        if key not in keys or not isinstance(name, str) or not NAME_RE.match(name):
            raise BoardFileError(f"{where} ({t}): bad channel name {key} = {name!r}")
    return SensorUse(t, options, keys, names)
