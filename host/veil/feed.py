"""Reading a disguised feed file: JSON lines, one record per line, as the file spool writes.

Lines are read with a hard length cap so a hostile file cannot exhaust memory, and every line
comes back either as a checked Record or as the reason it is not one: nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import VeilError
from .protocol import MalformedRecord, Record, check_shape

MAX_LINE = 4096


@dataclass
class Rejected:
    """A message that is not a record, with where it came from and why."""

    origin: str
    reason: str
    raw: bytes


def parse_message(raw: bytes) -> Record:
    """One message (a line or an MQTT payload) to a Record, or MalformedRecord saying why.

    Every reader of device messages (file ingest, the MQTT service, the CSE reader, live and
    stored decode) comes through here, so this is the one place that turns whatever a device
    sent into a reason: Python's json parser recurses once per nesting level and raises
    RecursionError on a few kilobytes of brackets, which must not end a service."""
    if len(raw) > MAX_LINE:
        raise MalformedRecord(f"message of {len(raw)} bytes exceeds {MAX_LINE}")
    try:
        obj = json.loads(raw)
    except UnicodeDecodeError:
        raise MalformedRecord("not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise MalformedRecord(f"bad JSON ({e.msg} at column {e.colno})") from None
    except ValueError as e:  # e.g. an integer of more digits than int() takes
        raise MalformedRecord(f"bad JSON ({str(e)[:80]})") from None
    except RecursionError:
        raise MalformedRecord("JSON nested too deeply") from None
    return check_shape(obj)


def open_feed(path: Path) -> BinaryIO:
    """A feed file opened to be read (binary), or VeilError saying why it cannot be (the
    line readers of feed files, here and veil.owner.columns, start here)."""
    if path.is_dir():
        raise VeilError(f"{path} is a folder, not a feed file (give the files in it)")
    try:
        return path.open("rb")
    except OSError as e:
        raise VeilError(f"cannot read feed {path}: {e.strerror}") from None


def empty_feed(path: Path) -> VeilError:
    """The error of a feed file with no line at all (nothing to read is never what was meant)."""
    return VeilError(f"{path} is empty: it holds no records")


def read_feed(path: str | Path) -> Iterator[tuple[str, Record | Rejected]]:
    """Yield (origin, Record or Rejected) for every non-blank line of a feed file; a file
    with no line at all is an error (nothing to read is never what was meant)."""
    path = Path(path)
    with open_feed(path) as f:
        lineno = seen = 0
        while True:
            raw = f.readline(MAX_LINE + 1)
            if not raw:
                if not seen:
                    raise empty_feed(path)
                return
            lineno += 1
            origin = f"{path.name}:{lineno}"
            if len(raw) > MAX_LINE:
                head = raw
                while raw and not raw.endswith(b"\n"):
                    raw = f.readline(MAX_LINE + 1)
                yield origin, Rejected(origin, f"line longer than {MAX_LINE} bytes", head)
                seen += 1
                continue
            if not raw.strip():
                continue
            seen += 1
            try:
                rec = parse_message(raw)
            except MalformedRecord as e:
                reason = str(e) if raw.endswith(b"\n") else f"truncated last line: {e}"
                yield origin, Rejected(origin, reason, raw)
            else:
                yield origin, rec
