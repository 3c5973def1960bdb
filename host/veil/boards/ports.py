"""Serial ports: which are there and what is on them, `auto` for the one board attached, and
failing fast and clearly when no board is attached, before any tool waits on it."""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .boardfile import BoardFile, known, load
from .link import BoardError, BoardLink

AUTO = "auto"
PROBE_TIMEOUT = 15


class NoBoardError(BoardError):
    """Nothing is attached at the port the user gave, or `auto` found no single board."""


@dataclass(frozen=True)
class SerialPort:
    """A serial port the OS lists, and the board files whose USB serial chip it has."""

    device: str
    description: str
    usb: tuple[int, int] | None
    boards: tuple[str, ...]

    def label(self) -> str:
        usb = f" [{self.usb[0]:04x}:{self.usb[1]:04x}]" if self.usb else ""
        maybe = f", a USB serial chip of {', '.join(self.boards)}" if self.boards else ""
        return f"{self.device} ({self.description}{usb}{maybe})"

    def to_json(self) -> dict:
        usb = f"{self.usb[0]:04x}:{self.usb[1]:04x}" if self.usb else None
        return {"port": self.device, "description": self.description, "usb": usb,
                "boards": list(self.boards)}  # fmt: skip


def system_ports():
    from serial.tools import list_ports

    return list_ports.comports()


def board_files() -> list[BoardFile]:
    return [load(name) for name in known()]


def listing(comports: Callable[[], Iterable] | None = None) -> list[SerialPort]:
    """Every serial port the OS lists now (USB-UART bridges and native USB CDC), with the
    board files whose USB ids it has. `comports` (default: pyserial's list_ports.comports)
    is any callable giving objects with its `device`, `description`, `vid` and `pid`."""
    files = board_files()
    found = []
    for p in (comports or system_ports)():
        usb = (p.vid, p.pid) if p.vid is not None and p.pid is not None else None
        boards = tuple(b.name for b in files if usb and usb in b.usb)
        found.append(SerialPort(p.device, p.description or "", usb, boards))
    return sorted(found, key=lambda p: p.device)


def present() -> list[str]:
    """Serial ports the OS lists now."""
    return [p.device for p in listing()]


def resolve(
    port: str, board: BoardFile | None = None, *, comports: Callable[[], Iterable] | None = None
) -> tuple[str, SerialPort | None]:
    """`port` itself, or for `auto` the one port whose USB serial chip is that of `board` (of
    any supported board when `board` has none, like the virtual one) and the port found;
    NoBoardError when none or several are."""
    if port != AUTO:
        return port, None
    ports = listing(comports)
    ids = set(board.usb) if board is not None and board.usb else None
    fits = [p for p in ports if p.boards and (ids is None or p.usb in ids)]
    if len(fits) == 1:
        return fits[0].device, fits[0]
    what = f"board {board.name}" if ids else "supported board"
    if not fits:
        others = "; ".join(p.label() for p in ports) or "none"
        raise NoBoardError(
            f"auto: no serial port has the USB serial chip of a {what} (ports present: "
            f"{others}): plug it in with a data cable, or give the port"
        )
    raise NoBoardError(
        f"auto: {len(fits)} ports could be a {what}: {'; '.join(p.label() for p in fits)}: "
        "give the port"
    )


def check_port(port: str) -> None:
    """Raise NoBoardError unless `port` is an openable device (URLs such as socket://host:port
    are left to the tool that opens them)."""
    if "://" in port:
        return
    if not os.path.exists(port):
        found = present()
        hint = (
            f"serial ports present: {', '.join(found)}"
            if found
            else "no serial port is present: is the board plugged in with a data cable?"
        )
        raise NoBoardError(f"no board on {port}: the port does not exist ({hint})")
    if not os.access(port, os.R_OK | os.W_OK):
        raise NoBoardError(
            f"cannot open {port}: permission denied (add yourself to the group that owns it, "
            "e.g. dialout, and log in again)"
        )


# One exec that tells what a board runs: MicroPython's version and machine, whether veil's
# firmware is there and which device it was provisioned as.
_PROBE = """\
import os, sys
def _veil():
    try:
        os.stat('veil')
        return True
    except OSError:
        return False
def _device():
    try:
        import json
        with open('config.json') as f:
            return json.load(f).get('device')
    except Exception:
        return None
_impl = sys.implementation
print(repr((tuple(_impl.version[:3]), _impl._machine, _veil(), _device())))
"""


@dataclass(frozen=True)
class OnBoard:
    """What a board runs: None for `micropython` when no MicroPython REPL answered."""

    micropython: tuple[int, int, int] | None
    machine: str | None = None
    firmware: bool = False
    device: str | None = None

    def describe(self) -> str:
        if self.micropython is None:
            return "no MicroPython answered"
        text = f"MicroPython {'.'.join(map(str, self.micropython))} ({self.machine})"
        if not self.firmware:
            return text + ", no veil firmware"
        return text + (f", veil device {self.device}" if self.device else ", veil, not provisioned")

    def to_json(self) -> dict:
        mp = ".".join(map(str, self.micropython)) if self.micropython else None
        return {"micropython": mp, "machine": self.machine, "firmware": self.firmware,
                "device": self.device}  # fmt: skip


def probe(port: str, timeout: float = PROBE_TIMEOUT) -> OnBoard:
    """Ask the board on `port` what it runs (this interrupts its firmware, as every mpremote
    command does, until the next reset)."""
    check_port(port)
    try:
        out = BoardLink(port, timeout=timeout).exec(_PROBE).strip()
        version, machine, firmware, device = ast.literal_eval(out.splitlines()[-1])
    except BoardError:
        return OnBoard(None)
    except (ValueError, SyntaxError, IndexError):
        raise BoardError(f"board on {port} answered {out[-80:]!r}") from None
    return OnBoard(tuple(version), str(machine), bool(firmware), device)
