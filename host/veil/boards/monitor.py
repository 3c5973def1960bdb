"""`veil monitor`: the board's log, live, with every secret masked.

The serial port is read directly (pyserial), not through mpremote, which would interrupt the
running firmware to reach the REPL. With `reset`, the board is restarted first through its raw
REPL (Ctrl-C, Ctrl-A, `machine.reset()`), so the log starts at boot; that works the same on a
USB-UART bridge, native USB and the virtual board.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from .link import BoardError
from .masking import Masker
from .ports import check_port

BAUD = 115200
_RESET = b"\r\x03\x03\x01import machine\nmachine.reset()\x04"
# What the REPL prints while the reset is typed: prompts and "OK" before the board's own text.
_PROMPTS = re.compile(r"^(?:>>> ?|>OK|OK|>|\x04)+")
_CHATTER = re.compile(r'^(raw REPL; CTRL-B to exit|Type "help\(\)".*|)$')


def monitor(
    port: str,
    out: Callable[[str], None],
    *,
    secrets: Sequence[bytes] = (),
    reset: bool = False,
    duration: float | None = None,
    until: str | None = None,
) -> str | None:
    """Show the log line by line, `secrets` masked, until `duration` seconds pass, a line
    matches `until` (that line is returned; BoardError when none did) or the user presses
    Ctrl-C. Seeing no line at all in `duration` seconds is a BoardError too: a script that
    watches a board wants to know it saw nothing."""
    shown = []

    def show(line: str) -> None:
        shown.append(True)
        out(line)

    start = time.monotonic()
    found = _watch(port, show, Masker(secrets), reset=reset, duration=duration, until=until)
    if duration and not shown and time.monotonic() - start >= duration:  # not a Ctrl-C
        raise BoardError(
            f"saw nothing from {port} in {duration:g} s: no board, or one that is not running "
            "(start it with --reset; a running board logs only every --log-every ticks)"
        )
    if until and found is None:
        raise BoardError(
            f"no log line matched {until!r}" + (f" within {duration} s" if duration else "")
        )
    return found


def _watch(port, out, masker, *, reset, duration, until) -> str | None:
    import serial

    check_port(port)
    pattern = re.compile(until) if until else None
    try:
        ser = serial.serial_for_url(port, BAUD, timeout=0.1)
    except (serial.SerialException, OSError) as e:
        raise BoardError(f"cannot open {port}: {e}") from None
    end = time.monotonic() + duration if duration else None
    pending = b""
    try:
        if reset:
            ser.write(_RESET)
        while end is None or time.monotonic() < end:
            try:
                chunk = ser.read(4096)
            except (serial.SerialException, OSError) as e:
                raise BoardError(f"lost the board on {port}: {e}") from None
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = masker(raw.decode(errors="replace").rstrip("\r"))
                line = _PROMPTS.sub("", line) if reset else line
                if _CHATTER.match(line):
                    continue
                out(line)
                if pattern and pattern.search(line):
                    return line
    except KeyboardInterrupt:
        return None
    finally:
        ser.close()
    if pending.strip():
        out(masker(pending.decode(errors="replace").rstrip("\r")))
    return None
