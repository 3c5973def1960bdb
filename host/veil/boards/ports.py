"""Serial ports: fail fast and clearly when no board is attached, before any tool waits on it."""

from __future__ import annotations

import os

from .link import BoardError


class NoBoardError(BoardError):
    """Nothing is attached at the port the user gave."""


def present() -> list[str]:
    """Serial ports the OS lists now (USB-UART bridges and native USB CDC)."""
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports())


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
